"""Canned local prompts: short WAVs the device plays itself (filler, hand-over, goodbye).

Each prompt is ``NAME.wav`` in the prompts folder, made by tools/make_prompts.py. They are
loaded once at start-up and converted to the device's speech format (``SPEECH_RATE_HZ``
mono PCM16).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import soxr

from device.audio.frames import SPEECH_RATE_HZ
from device.audio.wav import AudioFileError, read_wav

log = logging.getLogger(__name__)


def to_speech_format(pcm: bytes, rate_hz: int, channels: int) -> bytes:
    """Whole-clip conversion to ``SPEECH_RATE_HZ`` mono PCM16 (first channel)."""
    samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)[:, 0]
    if rate_hz != SPEECH_RATE_HZ:
        samples = soxr.resample(samples, rate_hz, SPEECH_RATE_HZ)
    return np.asarray(samples, dtype="<i2").tobytes()


class PromptLibrary:
    def __init__(self, prompts: dict[str, bytes]) -> None:
        self._prompts = prompts

    @classmethod
    def load(cls, folder: Path) -> PromptLibrary:
        prompts: dict[str, bytes] = {}
        if not folder.is_dir():
            log.warning(
                "prompts folder %s not found: the device will not play local prompts", folder
            )
            return cls(prompts)
        for path in sorted(folder.glob("*.wav")):
            try:
                pcm, rate, channels = read_wav(path)
            except AudioFileError as exc:
                log.warning("prompt skipped: %s", exc)
                continue
            prompts[path.stem] = to_speech_format(pcm, rate, channels)
        return cls(prompts)

    def get(self, name: str) -> bytes | None:
        """The prompt (PCM at ``SPEECH_RATE_HZ``), or None (logged once) when there is none."""
        pcm = self._prompts.get(name)
        if pcm is None:
            log.warning("no canned prompt named %r", name)
        return pcm

    def names(self) -> list[str]:
        return sorted(self._prompts)
