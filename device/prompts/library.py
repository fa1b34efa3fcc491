"""Canned local prompts: short WAVs the device plays itself, without the network.

Each prompt is ``NAME.wav`` in the prompts folder: a site's own
(``conversation.prompts_dir``), made by device/prompts/making.py (``voice-kiosk
make-prompts``) or recorded by the operator, or else the one installed with the package
(``PACKAGED_PROMPTS``, device/prompts/default). They are loaded once at start-up and
converted to the device's speech format (``SPEECH_RATE_HZ`` mono PCM16).

``CATALOGUE`` says what each prompt is for; ``REQUIRED_PROMPTS`` are the ones the daemon
plays on its own when something fails, so a folder without one of them leaves a caller in
silence: ``PromptLibrary.missing()`` names them for the start-up log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from device.audio.frames import SPEECH_RATE_HZ
from device.audio.wav import AudioFileError, read_wav
from device.prompts import prompts_folder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptRole:
    """What a canned prompt is for, whether the daemon needs it, and how long it may last."""

    purpose: str
    required: bool
    max_s: float  # longer keeps a caller waiting: make-prompts warns past this


CATALOGUE: dict[str, PromptRole] = {
    "filler": PromptRole("a tool is slow (tools.slow_filler_ms)", False, 2.5),
    "handover": PromptRole("the escalate tool called staff for the caller", False, 5.0),
    "goodbye": PromptRole("end_session hangs up and the model said no goodbye", False, 1.5),
    "error": PromptRole("something failed on the device's side, or a reply stalled", True, 4.5),
    "connection_lost": PromptRole("the link dropped mid-conversation", True, 3.0),
    "offline": PromptRole(
        "woken with no link: limited mode, and where to get help (site text)", True, 6.0
    ),
    "back_online": PromptRole("the link is back after offline (optional)", False, 1.5),
    "busy": PromptRole("the service is overloaded (429, rate limits)", True, 3.0),
    "muted": PromptRole("the microphone was muted during a conversation", False, 2.0),
    "limit": PromptRole(
        "a cost limit (conversation.max_cost, daily_budget) stopped the conversation", False, 3.5
    ),
    "disclosure": PromptRole(
        "every conversation's start: the caller talks to an AI (site text)", False, 3.0
    ),
    "consent": PromptRole(
        "after the disclosure: may this conversation be recorded? (site text)", False, 6.0
    ),
}
REQUIRED_PROMPTS: tuple[str, ...] = tuple(n for n, r in CATALOGUE.items() if r.required)
# Sounds, not words: copied into a site's folder beside the spoken prompts (name: what for)
SOUNDS: dict[str, str] = {"chime": "a wake (wake.chime; made by tools/make_chime.py)"}


def to_speech_format(pcm: bytes, rate_hz: int, channels: int) -> bytes:
    """Whole-clip conversion to ``SPEECH_RATE_HZ`` mono PCM16 (first channel)."""
    samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)[:, 0]
    if rate_hz != SPEECH_RATE_HZ:
        samples = soxr.resample(samples, rate_hz, SPEECH_RATE_HZ)
    return np.asarray(samples, dtype="<i2").tobytes()


class PromptLibrary:
    def __init__(self, prompts: dict[str, bytes], folder: Path | None = None) -> None:
        self._prompts = prompts
        self.folder = folder

    @classmethod
    def load(cls, folder: Path | None) -> PromptLibrary:
        """Every WAV of ``folder`` (None: the packaged prompts); a missing folder is logged."""
        folder = prompts_folder(folder)
        prompts: dict[str, bytes] = {}
        if not folder.is_dir():
            log.warning(
                "prompts folder %s not found: the device will not play local prompts", folder
            )
            return cls(prompts, folder)
        for path in sorted(folder.glob("*.wav")):
            try:
                pcm, rate, channels = read_wav(path)
            except AudioFileError as exc:
                log.warning("prompt skipped: %s", exc)
                continue
            prompts[path.stem] = to_speech_format(pcm, rate, channels)
        return cls(prompts, folder)

    def get(self, name: str) -> bytes | None:
        """The prompt (PCM at ``SPEECH_RATE_HZ``), or None (logged once) when there is none."""
        pcm = self._prompts.get(name)
        if pcm is None:
            log.warning("no canned prompt named %r", name)
        return pcm

    def names(self) -> list[str]:
        return sorted(self._prompts)

    def missing(self, required: Iterable[str] = REQUIRED_PROMPTS) -> list[str]:
        """The required prompts this library lacks (empty or unreadable WAVs count), in order."""
        return [name for name in required if not self._prompts.get(name)]

    def missing_line(self, required: Iterable[str] = REQUIRED_PROMPTS) -> str | None:
        """One log line naming the missing required prompts and the fix, or None if none are."""
        names = self.missing(required)
        if not names:
            return None
        where = f" in {self.folder}" if self.folder is not None else ""
        wavs = ", ".join(f"{name}.wav" for name in names)
        return (
            f"no prompt {wavs}{where}: the caller hears silence there "
            "(make them: voice-kiosk make-prompts --config FILE)"
        )
