"""Settings of the recorder (the `recording:` section of the config): transcripts and audio
of each conversation, opt-in and off by default, kept in the state folder for a while.

docs/recording.md describes what is written, where, and for how long.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from device.common.options import option


@dataclass(frozen=True, kw_only=True)
class RecordingSettings:
    """Per-conversation transcripts (JSON lines) and audio (WAV) in the state folder."""

    transcripts: bool = option(
        False,
        doc="Keep each conversation as JSON lines: the caller's and the assistant's words "
        "with times, tool calls (secrets masked), the outcome and the cost. Off: nothing of "
        "a conversation is written.",
    )
    audio: bool = option(
        False,
        doc="Also keep the caller's audio as uploaded (a WAV per turn) and each reply as "
        "played (a WAV per reply), 24 kHz 16-bit mono; needs transcripts.",
    )
    consent: Literal["not_asked", "required"] = option(
        "not_asked",
        doc="required: audio only after the caller said yes to being recorded in that "
        "conversation; not_asked: audio whenever audio is on (a caller's no always stops it).",
    )
    retention_days: float = option(
        30.0,
        doc="Delete a conversation's files this many days after they were last written.",
        min=0.01,
        max=3650,
    )
    max_mb: float = option(
        500.0,
        doc="At most this many MB of recordings: the oldest conversations are deleted first.",
        min=1,
        max=1_000_000,
    )
    state_dir: Path | None = option(
        None,
        doc="Folder the recordings/ folder is made in (null: systemd's StateDirectory, "
        "$STATE_DIRECTORY; neither: nothing is recorded, one warning).",
    )

    def __post_init__(self) -> None:
        if self.audio and not self.transcripts:
            raise ValueError(
                "audio: true needs transcripts: true (the transcript says which audio file "
                "is which turn)"
            )

    @property
    def enabled(self) -> bool:
        """Anything of a conversation is written."""
        return self.transcripts
