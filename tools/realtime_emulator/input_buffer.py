"""The session's input audio buffer: the audio timeline, server VAD, commit and clear (pure).

Times are ms of input audio appended since the session began (the timeline the
``input_audio_buffer.*`` events report). The buffer builds its own server events; what a
speech stop or a commit means for the conversation (an item, a turn, a response) is decided
by the session, which calls ``committed`` when it commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.realtime_emulator.events import Outbox
from tools.realtime_emulator.vad import BYTES_PER_MS, EnergyVad, SpeechStart, VadParams

MIN_COMMIT_MS = 100


@dataclass(frozen=True)
class SpeechStarted:
    """VAD found speech: ``event`` is ``input_audio_buffer.speech_started``."""

    event: dict[str, Any]


@dataclass(frozen=True)
class SpeechStopped:
    """VAD found the end of speech: commit ``item_id`` (``audio_ms`` long) at ``end_ms``."""

    event: dict[str, Any]
    item_id: str
    audio_ms: float
    end_ms: float


def vad_params(turn_detection: dict[str, Any] | None) -> VadParams:
    """The energy VAD's parameters for a ``turn_detection`` config (defaults if not server_vad)."""
    td = turn_detection or {}
    if td.get("type") == "server_vad":
        return VadParams(
            threshold=float(td.get("threshold", 0.5)),
            prefix_padding_ms=int(td.get("prefix_padding_ms", 300)),
            silence_duration_ms=int(td.get("silence_duration_ms", 500)),
        )
    return VadParams()


class InputBuffer:
    """Input audio of one session. See the module docstring."""

    def __init__(self, out: Outbox, params: VadParams) -> None:
        self.out = out
        self.vad = EnergyVad(params)
        self.input_bytes = 0
        self._start_ms = 0.0  # where the uncommitted audio begins
        self._speech_item: str | None = None
        self._speech_start_ms = 0

    @property
    def input_ms(self) -> float:
        """Ms of input audio appended since the session began (the VAD timeline)."""
        return self.input_bytes / BYTES_PER_MS

    @property
    def pending_ms(self) -> float:
        """Ms of audio appended since the last commit or clear."""
        return self.input_ms - self._start_ms

    def append(self, pcm: bytes, *, detect: bool) -> list[SpeechStarted | SpeechStopped]:
        """Add audio; with ``detect`` (server VAD on) return the speech starts and stops."""
        self.input_bytes += len(pcm)
        if not detect:
            return []
        found: list[SpeechStarted | SpeechStopped] = []
        for change in self.vad.feed(pcm):
            if isinstance(change, SpeechStart):
                found.append(self._started(change.audio_start_ms))
            else:
                found.append(self._stopped(change.audio_end_ms))
        return found

    def _started(self, start_ms: int) -> SpeechStarted:
        self._speech_item = self.out.ids.next("item")
        self._speech_start_ms = start_ms
        event = {
            "type": "input_audio_buffer.speech_started",
            "audio_start_ms": start_ms,
            "item_id": self._speech_item,
        }
        return SpeechStarted(self.out.stamp(event))

    def _stopped(self, end_ms: int) -> SpeechStopped:
        item_id = self._speech_item or self.out.ids.next("item")
        self._speech_item = None
        event = {
            "type": "input_audio_buffer.speech_stopped",
            "audio_end_ms": end_ms,
            "item_id": item_id,
        }
        return SpeechStopped(
            self.out.stamp(event), item_id, end_ms - self._speech_start_ms, float(end_ms)
        )

    def commit_refusal(self, event_id: str | None) -> dict[str, Any] | None:
        """The error for a client commit of too little audio, or None if it may commit."""
        have = self.pending_ms
        if have >= MIN_COMMIT_MS:
            return None
        msg = (
            "Error committing input audio buffer: buffer too small. Expected at least "
            f"{MIN_COMMIT_MS}ms of audio, but buffer only has {have:.2f}ms of audio."
        )
        return self.out.error("input_audio_buffer_commit_empty", msg, event_id=event_id)

    def manual_item(self) -> str:
        """A client commit: forget any speech in progress and give the new item's id."""
        self._speech_item = None
        return self.out.ids.next("item")

    def committed(self, item_id: str, previous_item_id: str | None, floor_ms: float) -> dict:
        """Mark the buffer committed up to ``floor_ms``; the ``committed`` event."""
        self._start_ms = floor_ms
        self.vad.reset(int(floor_ms))
        return self.out.stamp(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous_item_id,
                "item_id": item_id,
            }
        )

    def clear(self) -> dict[str, Any]:
        """Drop the uncommitted audio; the ``cleared`` event."""
        self._start_ms = self.input_ms
        self._speech_item = None
        self.vad.reset(int(self.input_ms))
        return self.out.stamp({"type": "input_audio_buffer.cleared"})
