"""Audio frames and PCM arithmetic shared by every audio module."""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_BYTES = 2  # PCM16
SPEECH_RATE_HZ = 24000
"""The device's internal rate for speech it uploads, replies it plays and its prompts (mono
PCM16). The Realtime GA codec's wire rate happens to equal it; a codec whose API uses
another rate converts at its own boundary."""


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """A block of captured audio.

    ``pcm`` is PCM16 little-endian, interleaved when ``channels`` > 1. ``t_ms`` is the
    capture time of its first sample on the source's monotonic clock, in ms.
    """

    pcm: bytes
    rate_hz: int
    channels: int
    t_ms: float

    @property
    def duration_ms(self) -> float:
        return pcm_ms(len(self.pcm), self.rate_hz, self.channels)


def pcm_ms(n_bytes: int, rate_hz: int, channels: int = 1) -> float:
    """Duration in ms of ``n_bytes`` of PCM16 audio."""
    return n_bytes * 1000.0 / (rate_hz * channels * SAMPLE_BYTES)


def pcm_bytes(ms: float, rate_hz: int, channels: int = 1) -> int:
    """Bytes of PCM16 audio in ``ms`` (whole samples)."""
    return int(ms * rate_hz / 1000.0) * channels * SAMPLE_BYTES
