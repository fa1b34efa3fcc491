"""The capture pipeline: channel pick, streaming resample to 24 kHz, upload chunks."""

from __future__ import annotations

import numpy as np
import pytest

from device.audio.frames import AudioFrame
from device.audio.pipeline import CapturePipeline


def tone(rate: int, ms: int, hz: float = 440.0, channels: int = 1, amp: int = 8000) -> np.ndarray:
    t = np.arange(rate * ms // 1000) / rate
    mono = (amp * np.sin(2 * np.pi * hz * t)).astype("<i2")
    return np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono


def feed(pipe: CapturePipeline, samples: np.ndarray, rate: int, channels: int) -> bytes:
    frame_n = rate // 50  # 20 ms
    out = b""
    for i in range(0, len(samples), frame_n):
        block = samples[i : i + frame_n]
        out += b"".join(pipe.process(AudioFrame(block.tobytes(), rate, channels, i * 1000 / rate)))
    return out


@pytest.mark.parametrize("rate", [16000, 24000, 44100, 48000])
def test_any_native_rate_becomes_24k_chunks_of_the_right_length(rate: int) -> None:
    pipe = CapturePipeline(rate, 1, 0, chunk_ms=40)
    out = feed(pipe, tone(rate, 2000), rate, 1)
    assert len(out) % (40 * 48) == 0
    assert abs(len(out) / 48 - 2000) <= 60  # within resampler delay + one chunk


def test_resampled_tone_keeps_its_pitch() -> None:
    pipe = CapturePipeline(16000, 1, 0, chunk_ms=20)
    out = np.frombuffer(feed(pipe, tone(16000, 1000, hz=1000), 16000, 1), dtype="<i2")
    spectrum = np.abs(np.fft.rfft(out[2400:]))
    peak_hz = np.argmax(spectrum) * 24000 / len(out[2400:])
    assert abs(peak_hz - 1000) < 20


def test_the_configured_channel_of_a_mic_array_is_used() -> None:
    rate = 24000
    voice = tone(rate, 200, hz=500)
    frame = np.zeros((len(voice), 4), dtype="<i2")
    frame[:, 2] = voice
    pipe = CapturePipeline(rate, 4, 2, chunk_ms=20)
    out = np.frombuffer(feed(pipe, frame, rate, 4), dtype="<i2")
    assert np.array_equal(out, voice[: len(out)])
    silent = CapturePipeline(rate, 4, 0, chunk_ms=20)
    assert not np.frombuffer(feed(silent, frame, rate, 4), dtype="<i2").any()


def test_a_channel_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="channel 4 does not exist"):
        CapturePipeline(16000, 2, 4, chunk_ms=20)
