"""The PyAudio adapters against a real PulseAudio daemon with virtual devices."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from device.audio.frames import SPEECH_RATE_HZ, AudioFrame
from device.audio.pipeline import CapturePipeline
from device.audio.pyaudio_io import PyAudioMic, PyAudioSpeaker
from device.audio.settings import GateSettings, PyAudioInput, PyAudioOutput
from tests.helpers import eventually, failed_opens
from tests.pulse import PulseServer, read_wav_mono, sound_span_s, write_wav

ROOT = Path(__file__).resolve().parents[2]
QUESTION = ROOT / "tools/demo_audio/question.wav"


class Recorder:
    """Collects a mic's frames in a task."""

    def __init__(self, mic: PyAudioMic) -> None:
        self.mic = mic
        self.frames: list[AudioFrame] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for frame in self.mic.frames():
            self.frames.append(frame)

    def samples(self, start: int = 0) -> np.ndarray:
        return np.frombuffer(b"".join(f.pcm for f in self.frames[start:]), dtype="<i2")

    async def stop(self) -> None:
        await self.mic.close()
        await asyncio.wait_for(self.task, 5)


def tone(ms: int, rate: int = 24000, hz: float = 440.0, amp: int = 9000) -> np.ndarray:
    t = np.arange(rate * ms // 1000) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype("<i2")


@pytest.mark.timeout(30)
async def test_mic_records_a_question_played_into_the_virtual_mic(pulse: PulseServer) -> None:
    mic = PyAudioMic(PyAudioInput(rate_hz=16000, frame_ms=20))
    rec = Recorder(mic)
    await eventually(lambda: len(rec.frames) > 5, 10, "the first frames")
    start = len(rec.frames)
    played = pulse.play_into_mic(QUESTION)
    assert await asyncio.to_thread(played.wait, 15) == 0
    end = len(rec.frames)
    await eventually(lambda: len(rec.frames) >= end + 25, 5, "0.5 s more audio")
    await rec.stop()

    heard = rec.samples(start)
    speech, rate = read_wav_mono(QUESTION)
    assert rate == 16000 and rec.frames[-1].rate_hz == 16000
    expected = sound_span_s(speech, rate)
    assert sound_span_s(heard, 16000) == pytest.approx(expected, rel=0.05)
    rms = lambda x: float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))  # noqa: E731
    loud = heard[np.abs(heard) > 0]
    assert rms(loud) == pytest.approx(rms(speech[np.abs(speech) > 0]), rel=0.2)
    assert mic.overflows == 0


@pytest.mark.timeout(30)
async def test_mic_frames_through_the_gate_upload_the_question(pulse: PulseServer) -> None:
    mic = PyAudioMic(PyAudioInput(rate_hz=16000, frame_ms=20))
    pipe = CapturePipeline(16000, 1, 0, GateSettings(), chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    chunks: list[bytes] = []
    rec = Recorder(mic)
    await eventually(lambda: len(rec.frames) > 100, 10, "2 s of room silence")
    for frame in rec.frames:
        chunks += pipe.process(frame)
    assert chunks == []  # silence is not uploaded
    done = len(rec.frames)
    played = pulse.play_into_mic(QUESTION)
    assert await asyncio.to_thread(played.wait, 15) == 0
    await eventually(lambda: len(rec.frames) >= done + 200, 10, "speech and 1.2 s after it")
    await rec.stop()
    for frame in rec.frames[done:]:
        chunks += pipe.process(frame)
    uploaded_s = sum(len(c) for c in chunks) / 48000
    speech, rate = read_wav_mono(QUESTION)
    span = sound_span_s(speech, rate)
    assert span <= uploaded_s <= span + 2.0  # speech + pre-roll + hangover, not the silence


@pytest.mark.timeout(30)
async def test_speaker_plays_a_reply_for_its_duration(pulse: PulseServer, tmp_path: Path) -> None:
    speaker = PyAudioSpeaker(PyAudioOutput(rate_hz=48000, buffer_ms=10, prebuffer_ms=40))
    assert await asyncio.to_thread(speaker.wait_open, 10), speaker.error
    recording = tmp_path / "speaker.wav"
    recorder = await asyncio.to_thread(pulse.record_speaker, recording)
    reply = tone(2000)
    for i in range(0, len(reply), 2400):  # streamed in 100 ms deltas
        speaker.write("item_1", reply[i : i + 2400].tobytes())
    await asyncio.wait_for(speaker.wait_idle(), 10)
    assert speaker.played_ms("item_1") == pytest.approx(2000, abs=1)
    assert speaker.played_ms("other") == 0
    assert speaker.queued_ms() == 0
    await asyncio.sleep(speaker.pending_output_s() + 0.1)  # the device's own latency report
    await asyncio.to_thread(pulse.stop_recording, recorder)
    await speaker.close()
    heard, rate = read_wav_mono(recording)
    assert sound_span_s(heard, rate) == pytest.approx(2.0, rel=0.05)


@pytest.mark.timeout(30)
async def test_flush_silences_the_speaker_within_a_few_periods(
    pulse: PulseServer, tmp_path: Path
) -> None:
    speaker = PyAudioSpeaker(PyAudioOutput(rate_hz=48000, buffer_ms=10))
    assert await asyncio.to_thread(speaker.wait_open, 10), speaker.error
    recording = tmp_path / "speaker.wav"
    recorder = await asyncio.to_thread(pulse.record_speaker, recording)
    speaker.write("item_1", tone(3000).tobytes())
    await eventually(lambda: speaker.played_ms("item_1") >= 500, 5, "half a second played")
    speaker.flush()
    at_flush = speaker.played_ms("item_1")
    assert speaker.queued_ms() == 0
    await asyncio.wait_for(speaker.wait_idle(), 1)
    await asyncio.sleep(speaker.pending_output_s() + 0.1)
    later = speaker.played_ms("item_1")
    assert later - at_flush <= 10.0  # at most the period being pulled
    assert speaker.last_flush_ms is not None and speaker.last_flush_ms <= 60
    await asyncio.to_thread(pulse.stop_recording, recorder)
    await speaker.close()
    heard, rate = read_wav_mono(recording)
    assert sound_span_s(heard, rate) * 1000 == pytest.approx(later, abs=30)


@pytest.mark.timeout(40)
async def test_unplugged_mic_is_reported_and_recovers(pulse: PulseServer) -> None:
    health: list[tuple[bool, str]] = []
    mic = PyAudioMic(
        PyAudioInput(rate_hz=16000, retry_s=0.5), on_health=lambda ok, m: health.append((ok, m))
    )
    rec = Recorder(mic)
    await eventually(lambda: len(rec.frames) > 5, 10, "the first frames")
    failures = failed_opens(mic)
    pulse.unplug_mic()
    try:
        await eventually(lambda: len(health) >= 1, 10, "the outage report")
        assert health[0][0] is False
        assert "microphone 'default'" in health[0][1] and "retrying every 0.5 s" in health[0][1]
        # several retries fail meanwhile, none is reported again
        await eventually(lambda: len(failures) >= 2, 10, "two retries that failed")
        assert [ok for ok, _ in health] == [False]  # once per outage, not once per retry
    finally:
        pulse.replug_mic()
    await eventually(lambda: len(health) >= 2, 10, "the recovery report")
    assert health[1] == (True, "microphone 'default' is back")
    n = len(rec.frames)
    await eventually(lambda: len(rec.frames) > n + 10, 5, "frames after the recovery")
    await rec.stop()
    assert mic.outages == 1


async def test_a_missing_mic_is_named_and_retried(pulse: PulseServer) -> None:
    health: list[tuple[bool, str]] = []
    mic = PyAudioMic(
        PyAudioInput(device="NoSuchCard", retry_s=0.5),
        on_health=lambda ok, m: health.append((ok, m)),
    )
    rec = Recorder(mic)
    await eventually(lambda: len(health) >= 1, 10, "the outage report")
    assert health == [(False, "microphone 'NoSuchCard' not found: retrying every 0.5 s")]
    await rec.stop()
    assert rec.frames == []


async def test_a_missing_speaker_drops_replies_without_hanging(pulse: PulseServer) -> None:
    speaker = PyAudioSpeaker(PyAudioOutput(device="NoSuchCard"), retry_s=0.5)
    assert await asyncio.to_thread(speaker.wait_open, 10) is False
    assert speaker.error is not None and "speaker 'NoSuchCard'" in speaker.error
    speaker.write("item_1", tone(500).tobytes())
    await asyncio.wait_for(speaker.wait_idle(), 1)
    assert speaker.played_ms("item_1") == 0
    await speaker.close()


def test_write_wav_helper_roundtrip(tmp_path: Path) -> None:
    write_wav(tmp_path / "t.wav", tone(100), 24000)
    samples, rate = read_wav_mono(tmp_path / "t.wav")
    assert rate == 24000 and len(samples) == 2400


@pytest.mark.timeout(40)
async def test_heard_ms_after_a_flush_is_where_the_recording_stops(
    pulse: PulseServer, tmp_path: Path
) -> None:
    """The playback clock of several items, against a recording of the speaker."""
    speaker = PyAudioSpeaker(PyAudioOutput(rate_hz=48000, buffer_ms=10, prebuffer_ms=40))
    assert await asyncio.to_thread(speaker.wait_open, 10), speaker.error
    for k, cut_ms in enumerate((330, 770)):
        recording = tmp_path / f"speaker{k}.wav"
        recorder = await asyncio.to_thread(pulse.record_speaker, recording)
        first, second = f"a{k}", f"b{k}"
        speaker.write(first, tone(400).tobytes())  # one response, two audio items
        speaker.write(second, tone(3000, hz=660).tobytes())
        assert speaker.received_ms(second) == 3000
        await eventually(lambda s=second, c=cut_ms: speaker.heard_ms(s) >= c, 10, "the cut point")
        before = speaker.heard_ms(second)
        handed = speaker._buffer.played_ms(second)
        assert handed - before >= 10  # the card's buffer is not counted as heard
        speaker.flush()
        heard_first, heard = speaker.heard_ms(first), speaker.heard_ms(second)
        await asyncio.wait_for(speaker.wait_idle(), 2)
        await asyncio.sleep(0.05)
        await asyncio.to_thread(pulse.stop_recording, recorder)
        samples, rate = read_wav_mono(recording)
        played_s = sound_span_s(samples, rate)  # from the first item's start to the cut
        assert heard_first == 400
        assert heard == pytest.approx(played_s * 1000 - 400, abs=40)
        assert speaker.heard_ms(second) == heard  # nothing more came out after the flush
    await speaker.close()
