"""Reply audio: espeak-ng speech as 24 kHz PCM16, or a clearly synthetic tone without it.

espeak-ng writes 22050 Hz WAV to stdout (with placeholder chunk sizes, so the data chunk is
read to the end of the output) and soxr resamples it to 24 kHz. Results are cached per
(text, voice, words per minute). Blocking: call it from a worker thread in async code.
"""

from __future__ import annotations

import logging
import shutil
import struct
import subprocess
from functools import lru_cache

import numpy as np
import soxr

log = logging.getLogger(__name__)

RATE_HZ = 24000
_warned = False


class SpeechError(RuntimeError):
    """espeak-ng failed for a text."""


def synthesize(text: str, voice: str = "en-us", words_per_minute: int = 175) -> bytes:
    """PCM16 mono 24 kHz for ``text``: espeak-ng if installed, else a tone (logged once)."""
    global _warned
    if shutil.which("espeak-ng") is None:
        if not _warned:
            log.warning("espeak-ng is not installed: replies are a synthetic tone, not speech")
            _warned = True
        return tone_for(text, words_per_minute)
    return _espeak(text, voice, words_per_minute)


@lru_cache(maxsize=256)
def _espeak(text: str, voice: str, words_per_minute: int) -> bytes:
    try:
        out = subprocess.run(
            ["espeak-ng", "--stdout", "-v", voice, "-s", str(words_per_minute), text],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SpeechError(f"espeak-ng failed: {exc}") from None
    if out.returncode != 0:
        why = out.stderr.decode(errors="replace").strip().splitlines()
        raise SpeechError(
            f"espeak-ng failed (voice {voice!r}): {why[0] if why else out.returncode}"
        )
    pcm, rate = wav_pcm16(out.stdout)
    samples = np.frombuffer(pcm, dtype="<i2")
    if rate != RATE_HZ:
        samples = soxr.resample(samples, rate, RATE_HZ)
    return np.asarray(samples, dtype="<i2").tobytes()


def wav_pcm16(data: bytes) -> tuple[bytes, int]:
    """Mono PCM16 samples and rate of a RIFF WAV; the data chunk may claim any size."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SpeechError("espeak-ng did not write a WAV file")
    pos, rate = 12, 0
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            fmt, channels, rate = struct.unpack("<HHI", data[body : body + 8])
            bits = struct.unpack("<H", data[body + 14 : body + 16])[0]
            if (fmt, channels, bits) != (1, 1, 16):
                raise SpeechError(f"unexpected WAV format {fmt}/{channels} ch/{bits} bit")
        elif cid == b"data":
            end = min(len(data), body + size)
            pcm = data[body:end]
            return pcm[: len(pcm) - len(pcm) % 2], rate
        pos = body + size + (size & 1)
    raise SpeechError("WAV file without a data chunk")


def tone_for(text: str, words_per_minute: int = 175) -> bytes:
    """A beeping 440 Hz tone as long as ``text`` would take to say: obviously not speech."""
    words = max(1, len(text.split()))
    n = int(RATE_HZ * max(0.3, words * 60.0 / words_per_minute))
    t = np.arange(n) / RATE_HZ
    gate = (np.floor(t * 4) % 2 == 0).astype(np.float64)  # 125 ms on, 125 ms off
    wave = 0.3 * np.sin(2 * np.pi * 440.0 * t) * gate
    return (wave * 32767).astype("<i2").tobytes()
