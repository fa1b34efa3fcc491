"""The capture pipeline: channel pick, streaming resample to 24 kHz, upload chunks, the
16 kHz fan-out, and the same uploads as the pipeline it replaced."""

from __future__ import annotations

import itertools
import logging
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr

from device.audio.frames import SPEECH_RATE_HZ, AudioFrame
from device.audio.pipeline import CapturePipeline
from device.audio.settings import GateSettings
from tools.bench_baseline_pipeline import BaselineCapturePipeline

ROOT = Path(__file__).resolve().parents[1]


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
    pipe = CapturePipeline(rate, 1, 0, chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    out = feed(pipe, tone(rate, 2000), rate, 1)
    assert len(out) % (40 * 48) == 0
    assert abs(len(out) / 48 - 2000) <= 60  # within resampler delay + one chunk


def test_resampled_tone_keeps_its_pitch() -> None:
    pipe = CapturePipeline(16000, 1, 0, chunk_ms=20, upload_rate_hz=SPEECH_RATE_HZ)
    out = np.frombuffer(feed(pipe, tone(16000, 1000, hz=1000), 16000, 1), dtype="<i2")
    spectrum = np.abs(np.fft.rfft(out[2400:]))
    peak_hz = np.argmax(spectrum) * 24000 / len(out[2400:])
    assert abs(peak_hz - 1000) < 20


def test_the_configured_channel_of_a_mic_array_is_used() -> None:
    rate = 24000
    voice = tone(rate, 200, hz=500)
    frame = np.zeros((len(voice), 4), dtype="<i2")
    frame[:, 2] = voice
    pipe = CapturePipeline(rate, 4, 2, chunk_ms=20, upload_rate_hz=SPEECH_RATE_HZ)
    out = np.frombuffer(feed(pipe, frame, rate, 4), dtype="<i2")
    assert np.array_equal(out, voice[: len(out)])
    silent = CapturePipeline(rate, 4, 0, chunk_ms=20, upload_rate_hz=SPEECH_RATE_HZ)
    assert not np.frombuffer(feed(silent, frame, rate, 4), dtype="<i2").any()


def test_a_channel_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="channel 4 does not exist"):
        CapturePipeline(16000, 2, 4, chunk_ms=20, upload_rate_hz=SPEECH_RATE_HZ)


def test_an_upload_rate_other_than_24k_is_honoured() -> None:
    """The upload rate is the caller's (the codec's), not an assumption of the core."""
    pipe = CapturePipeline(48000, 1, 0, chunk_ms=40, upload_rate_hz=16000)
    chunks: list[bytes] = []
    wave = tone(48000, 1000, hz=1000)
    for i in range(0, len(wave), 960):
        chunks += pipe.process(AudioFrame(wave[i : i + 960].tobytes(), 48000, 1, i / 48))
    assert chunks and all(len(c) == 40 * 16 * 2 for c in chunks)
    out = np.frombuffer(b"".join(chunks), dtype="<i2")[1600:]
    assert abs(np.argmax(np.abs(np.fft.rfft(out))) * 16000 / len(out) - 1000) < 20
    with pytest.raises(ValueError, match="upload_rate_hz 4000 is too low"):
        CapturePipeline(16000, 1, 0, chunk_ms=20, upload_rate_hz=4000)


# -- the 16 kHz fan-out -----------------------------------------------------------------


def stereo(rate: int, ms: int) -> np.ndarray:
    """Channel 1: a 1 kHz tone (the voice); channel 0: a 300 Hz tone (another mic)."""
    frame = np.zeros((rate * ms // 1000, 2), dtype="<i2")
    frame[:, 0] = tone(rate, ms, hz=300)
    frame[:, 1] = tone(rate, ms, hz=1000)
    return frame


def feed_frames(
    pipe: Any, samples: np.ndarray, rate: int, steps: tuple[int, ...] = ()
) -> list[list[bytes]]:
    """Chunks per frame; frames of 20 ms, or of ``steps`` samples in turn."""
    channels = samples.shape[1] if samples.ndim > 1 else 1
    sizes = itertools.cycle(steps or (rate // 50,))
    out, i = [], 0
    while i < len(samples):
        n = next(sizes)
        out.append(pipe.process(AudioFrame(samples[i : i + n].tobytes(), rate, channels, 0.0)))
        i += n
    return out


def test_the_wake_word_gets_the_16k_audio_of_the_configured_channel() -> None:
    pipe = CapturePipeline(48000, 2, 1, chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    heard: list[np.ndarray] = []
    pipe.subscribe_16k(heard.append)
    feed_frames(pipe, stereo(48000, 2000), 48000)
    assert all(len(a) and a.dtype == np.int16 for a in heard)
    x = np.concatenate(heard)  # the arrays were kept: none was reused by the pipeline
    assert len(x) == pytest.approx(32000, abs=400)  # 2 s at 16 kHz, less the filter delay
    steady = x[1600:].astype(np.float64)
    peak_hz = np.argmax(np.abs(np.fft.rfft(steady))) * 16000 / len(steady)
    assert abs(peak_hz - 1000) < 2  # channel 1's voice, not channel 0's 300 Hz
    assert np.sqrt(np.mean(steady**2)) == pytest.approx(8000 / np.sqrt(2), rel=0.02)
    with pytest.raises(ValueError, match="read-only"):
        heard[-1][0] = 0  # kept arrays are read-only: nobody changes what another sees


def test_two_consumers_share_one_resampling_and_can_leave() -> None:
    pipe = CapturePipeline(48000, 2, 1, chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    wake: list[np.ndarray] = []
    vad: list[np.ndarray] = []
    pipe.subscribe_16k(wake.append)
    pipe.subscribe_16k(vad.append)
    with pytest.raises(ValueError, match="already receives"):
        pipe.subscribe_16k(vad.append)
    audio = stereo(48000, 1000)
    feed_frames(pipe, audio, 48000)
    assert sum(map(len, wake)) == pytest.approx(16000, abs=400)
    assert len(wake) == len(vad) and all(a is b for a, b in zip(wake, vad, strict=True))
    pipe.unsubscribe_16k(wake.append)
    feed_frames(pipe, audio, 48000)
    assert sum(map(len, wake)) < 16000 < sum(map(len, vad)) and pipe.subscribers_16k == 1
    pipe.unsubscribe_16k(vad.append)
    pipe.unsubscribe_16k(vad.append)  # leaving twice is harmless
    before = len(vad)
    uploads = feed_frames(pipe, audio, 48000)
    assert len(vad) == before and pipe.subscribers_16k == 0
    assert sum(len(c) for f in uploads for c in f) / 48 == pytest.approx(1000, abs=40)


def test_a_failing_consumer_is_logged_once_and_uploads_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_detector(samples: np.ndarray) -> None:
        raise RuntimeError("model crashed")

    # 24 kHz in: the upload is not resampled, so two pipelines agree to the sample
    plain = CapturePipeline(24000, 2, 1, chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    pipe = CapturePipeline(24000, 2, 1, chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    heard: list[np.ndarray] = []
    pipe.subscribe_16k(broken_detector)
    pipe.subscribe_16k(heard.append)
    audio = stereo(24000, 1000)
    with caplog.at_level(logging.ERROR, logger="device.audio.pipeline"):
        uploads = feed_frames(pipe, audio, 24000)
    assert uploads == feed_frames(plain, audio, 24000)  # the same chunks on the same frames
    assert sum(len(c) for f in uploads for c in f) / 48 == pytest.approx(1000, abs=40)
    assert sum(map(len, heard)) == pytest.approx(16000, abs=400)
    name = "test_a_failing_consumer_is_logged_once_and_uploads_go_on.<locals>.broken_detector"
    assert pipe.consumer_errors == {name: len(heard)}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "broken_detector" in errors[0].getMessage()


# -- the same uploads as the pipeline it replaced ---------------------------------------
# soxr dithers int16 output with a seed of its own per stream, so two pipelines that
# resample (even two copies of the old one) differ in the last bit: the comparisons feed
# audio at the upload rate, where neither resamples, and compare everything after that.


def shop_floor_24k() -> np.ndarray:
    """The 60 s shop-floor recording at 24 kHz (resampled once, in float: no dither)."""
    with wave.open(str(ROOT / "tools/bench_audio/shop60.wav"), "rb") as w:
        pcm, rate = w.readframes(w.getnframes()), w.getframerate()
    x = soxr.resample(np.frombuffer(pcm, dtype="<i2").astype(np.float64), rate, 24000)
    return np.clip(np.rint(x), -32768, 32767).astype("<i2")


@pytest.mark.slow
def test_uploads_equal_the_baseline_pipeline_on_the_shop_floor_recording() -> None:
    """Byte for byte, span for span, frame for frame, as the pipeline of commit 3849407."""
    samples = shop_floor_24k()
    new = CapturePipeline(24000, 1, 0, GateSettings(), 40, upload_rate_hz=SPEECH_RATE_HZ)
    old = BaselineCapturePipeline(24000, 1, 0, GateSettings(), 40)
    new.trace, old.trace = [], []
    got, expected = feed_frames(new, samples, 24000), feed_frames(old, samples, 24000)
    assert sum(map(len, got)) > 400  # the recording holds speech: hundreds of chunks go up
    assert got == expected
    assert new.trace == old.trace and new.uploaded_bytes == old.uploaded_bytes


def test_uploads_equal_the_baseline_with_a_mic_array_hold_open_and_reset() -> None:
    """Stereo, odd and huge frames, 20 ms chunks, turns held open, new visitors: the same."""
    voice = shop_floor_24k()
    two = np.zeros((len(voice), 2), dtype="<i2")
    two[:, 1] = voice
    two[:, 0] = voice[::-1]  # another microphone hears something else
    gate = GateSettings(preroll_ms=200, hangover_ms=500)
    new = CapturePipeline(24000, 2, 1, gate, 20, upload_rate_hz=SPEECH_RATE_HZ)
    old = BaselineCapturePipeline(24000, 2, 1, gate, 20)
    new.trace, old.trace = [], []
    rng = np.random.default_rng(11)
    sizes = itertools.cycle((240, 700, 480, 73, 240, 480, 30000, 1000, 240))
    i = n = 0
    while i < len(two):
        event = rng.random()
        if event < 0.06:  # the server hears the caller start, or stop
            new.set_hold_open(not new.hold_open)
            old.hold_open = not old.hold_open
        elif event < 0.07:  # a new visitor
            new.reset()
            old.reset()
        step = next(sizes)
        frame = AudioFrame(two[i : i + step].tobytes(), 24000, 2, 0.0)
        assert new.process(frame) == old.process(frame), f"frame {n}"
        assert (new.level_db, new.floor_db, new.gate_open) == (
            old.level_db,
            old.floor_db,
            old.gate_open,
        ), f"frame {n}"
        i, n = i + step, n + 1
    assert new.trace == old.trace and len(new.trace) > 1000


def _listened_pipelines(n: int) -> list[tuple[CapturePipeline, list[np.ndarray]]]:
    """``n`` pipelines of the shop-floor recording's rate, each with what its 16 kHz
    consumer heard."""
    out = []
    for _ in range(n):
        pipe = CapturePipeline(24000, 1, 0, GateSettings(), 40, upload_rate_hz=SPEECH_RATE_HZ)
        heard: list[np.ndarray] = []
        pipe.subscribe_16k(heard.append)
        out.append((pipe, heard))
    return out


def test_idle_batching_uploads_and_fans_out_the_same_audio_per_80_ms() -> None:
    """Batched while idle: the same bytes up (gate decisions included) and the same 16 kHz
    audio, in calls of 80 ms (one wake-word frame); switched off, nothing is held back."""
    samples = shop_floor_24k()[: 24000 * 20]
    (plain, heard_plain), (batched, heard_batched) = _listened_pipelines(2)
    batched.set_batching(True)
    half = len(samples) // 2
    got = feed_frames(batched, samples[:half], 24000)
    assert all(chunks == [] for i, chunks in enumerate(got) if i % 4 != 3)  # gathered
    calls_while_batched = len(heard_batched)
    assert calls_while_batched <= len(got) / 4 + 1  # one resampling call per 80 ms
    assert batched.pending_ms >= 0.0
    batched.set_batching(False)
    got += feed_frames(batched, samples[half:], 24000)
    expected = feed_frames(plain, samples, 24000)
    assert sum(map(len, expected)) > 100
    assert b"".join(itertools.chain(*got)) == b"".join(itertools.chain(*expected))
    a, b = np.concatenate(heard_batched), np.concatenate(heard_plain)
    assert len(a) == len(b)  # the resampler rounds a little differently per call size:
    assert np.abs(a.astype(np.int32) - b).max() <= 2  # the same audio within 2 LSB


def test_a_batch_veto_sends_each_frame_at_once_while_it_holds() -> None:
    """The wake word wants an early look (a score is rising): batching or not, each frame's
    audio reaches the 16 kHz consumers as it comes, with what was gathered before it."""
    samples = shop_floor_24k()[: 24000 * 3]
    pipe = CapturePipeline(24000, 1, 0, GateSettings(), 40, upload_rate_hz=SPEECH_RATE_HZ)
    heard = [0]
    pipe.subscribe_16k(lambda x: heard.__setitem__(0, heard[0] + len(x)))
    pipe.set_batching(True)
    veto = [False]
    pipe.set_batch_veto(lambda: veto[0])
    frame = 480  # 20 ms at 24 kHz; 320 samples at 16 kHz
    lags: dict[bool, list[int]] = {False: [], True: []}
    fed = 0
    for n, i in enumerate(range(0, len(samples), frame)):
        veto[0] = (n // 25) % 2 == 1  # half a second of each, in turn
        pipe.process(AudioFrame(samples[i : i + frame].tobytes(), 24000, 1, 0.0))
        fed += 320
        lags[veto[0]].append(fed - heard[0])
    # the resampler's own delay is under a frame; batches hold back up to 3 more
    assert max(lags[True][1:]) < 2 * 320, lags[True]
    assert max(lags[False]) >= 3 * 320, lags[False]


def test_a_quiet_room_stretches_the_batches_to_160_ms_and_loses_nothing() -> None:
    """While the wake word's models are idle the 16 kHz consumers are called once per
    160 ms, not 80; the moment they run again, once per 80 ms; the audio is the same."""
    samples = shop_floor_24k()[: 24000 * 4]
    (plain, heard_plain), (pipe, heard) = _listened_pipelines(2)
    pipe.set_batching(True)
    idle = [True]
    pipe.set_batch_stretch(lambda: idle[0])
    frame = 480  # 20 ms at 24 kHz
    seen: dict[bool, int] = {True: 0, False: 0}
    for n, i in enumerate(range(0, len(samples), frame)):
        idle[0] = n < 100  # two seconds idle, then two running
        before = len(heard)
        pipe.process(AudioFrame(samples[i : i + frame].tobytes(), 24000, 1, 0.0))
        seen[idle[0]] += len(heard) - before
    assert seen[True] == 12  # 2 s in 160 ms batches (the last 80 ms wait for the next)
    assert seen[False] == 25  # those 80 ms with the first running frame, then 80 ms each
    pipe.set_batching(False)
    pipe.process(AudioFrame(bytes(frame * 2), 24000, 1, 0.0))  # what was gathered goes too
    feed_frames(plain, np.concatenate([samples, np.zeros(frame, np.int16)]), 24000)
    a, b = np.concatenate(heard), np.concatenate(heard_plain)
    assert len(a) == len(b)
    assert np.abs(a.astype(np.int32) - b).max() <= 2  # the same audio within 2 LSB


def test_pending_ms_places_the_chunks_of_a_batch_in_time() -> None:
    pipe = CapturePipeline(24000, 1, 0, None, 40, upload_rate_hz=SPEECH_RATE_HZ)  # no gate
    pipe.set_batching(True)
    frame = AudioFrame(tone(24000, 20).tobytes(), 24000, 1, 0.0)
    assert pipe.process(frame) == [] and pipe.pending_ms == 20.0  # gathered, not yet cut
    for _ in range(3):
        chunks = pipe.process(frame)
    assert len(chunks) == 2 and pipe.pending_ms == 0.0  # 80 ms: two 40 ms chunks at once
    assert pipe.process(frame) == [] and pipe.pending_ms == 20.0  # the next batch begins


def test_a_reset_that_keeps_the_gate_sends_ongoing_speech_at_once_and_nothing_before() -> None:
    """A visitor leaves while someone talks on: the next start gets their words at once
    (no new attack wait), and nothing heard before the reset."""
    speech = np.concatenate([np.zeros(24000, dtype="<i2"), tone(24000, 1000, amp=8000)])
    kept = CapturePipeline(24000, 1, 0, GateSettings(), 40, upload_rate_hz=SPEECH_RATE_HZ)
    fresh = CapturePipeline(24000, 1, 0, GateSettings(), 40, upload_rate_hz=SPEECH_RATE_HZ)
    for pipe in (kept, fresh):
        feed(pipe, speech[:31200], 24000, 1)  # 1 s of quiet, then 300 ms of sound
        assert pipe.gate_open
    kept.reset(keep_gate=True)
    fresh.reset()
    kept.trace, fresh.trace = [], []
    frame = AudioFrame(speech[31200:31680].tobytes(), 24000, 1, 0.0)  # the next 20 ms
    assert kept.gate_open and not fresh.gate_open
    kept.process(frame)
    fresh.process(frame)
    assert kept.trace and min(pos for pos, _ in kept.trace) >= kept._position - 480
    assert fresh.trace == []  # waits for the attack again
