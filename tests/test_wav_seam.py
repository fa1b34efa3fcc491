"""The file implementations of the audio seam: WAV microphone and WAV speaker."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from device.audio.settings import FileInput, FileOutput
from device.audio.wav import AudioFileError, WavMic, WavSpeaker, read_wav

MS_24K = 48  # bytes per ms of 24 kHz mono PCM16


def write_wav(path: Path, pcm: bytes, rate: int = 16000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def test_mic_yields_timestamped_20ms_frames_then_the_tail_of_silence(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "q.wav", b"\x10\x00" * 16000)  # 1 s at 16 kHz
    mic = WavMic(FileInput(path=path, speed=0, tail_silence_ms=200))
    frames = [f async for f in mic.frames()]
    assert len(frames) == 60  # 1.2 s / 20 ms
    assert all(f.rate_hz == 16000 and f.channels == 1 and len(f.pcm) == 640 for f in frames)
    assert [f.t_ms for f in frames[:3]] == [0.0, 20.0, 40.0]
    assert frames[49].pcm != bytes(640) and frames[50].pcm == bytes(640)


async def test_mic_keeps_all_channels_of_a_multichannel_file(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "q.wav", b"\x01\x00\x02\x00" * 480, rate=24000, channels=2)
    frames = [f async for f in WavMic(FileInput(path=path, speed=0, tail_silence_ms=0)).frames()]
    assert frames[0].channels == 2 and len(frames[0].pcm) == 20 * 24 * 2 * 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"not a wav at all", "not a readable WAV file"),
    ],
)
def test_bad_wav_files_give_one_line_naming_the_file(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioFileError) as err:
        read_wav(path)
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_speaker_clock_counts_only_what_has_played_per_item(tmp_path: Path) -> None:
    clock = FakeClock()
    out = tmp_path / "reply.wav"
    spk = WavSpeaker(FileOutput(path=out, speed=1.0), clock=clock)
    spk.write("item_a", b"\x01\x00" * 24 * 100)  # 100 ms
    spk.write("item_b", b"\x02\x00" * 24 * 100)  # 100 ms after it
    assert spk.played_ms("item_a") == 0
    clock.t += 0.040
    assert spk.played_ms("item_a") == pytest.approx(40, abs=0.1)
    assert spk.queued_ms() == pytest.approx(160, abs=0.1)
    clock.t += 0.080
    assert spk.played_ms("item_a") == pytest.approx(100, abs=0.1)
    assert spk.played_ms("item_b") == pytest.approx(20, abs=0.1)


async def test_speaker_flush_silences_at_once_and_the_file_holds_only_what_played(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    out = tmp_path / "reply.wav"
    spk = WavSpeaker(FileOutput(path=out, speed=1.0), clock=clock)
    spk.write("item_a", b"\x01\x00" * 24 * 500)  # 500 ms
    clock.t += 0.150
    spk.flush()
    assert spk.queued_ms() == 0
    clock.t += 1.0
    assert spk.played_ms("item_a") == pytest.approx(150, abs=0.1)
    await spk.close()
    pcm, rate, channels = read_wav(out)
    assert (rate, channels) == (24000, 1)
    assert len(pcm) == pytest.approx(150 * MS_24K, abs=2)


async def test_speaker_after_a_pause_starts_the_next_item_from_now(tmp_path: Path) -> None:
    clock = FakeClock()
    spk = WavSpeaker(FileOutput(path=tmp_path / "r.wav", speed=1.0), clock=clock)
    spk.write("a", b"\x01\x00" * 24 * 50)
    clock.t += 5.0  # long idle gap: the next item must not count as already played
    assert spk.queued_ms() == 0
    spk.write("b", b"\x01\x00" * 24 * 50)
    assert spk.played_ms("b") == 0
    await spk.close()


async def test_unpaced_speaker_plays_everything_at_once(tmp_path: Path) -> None:
    spk = WavSpeaker(FileOutput(path=tmp_path / "r.wav", speed=0))
    spk.write("a", b"\x01\x00" * 24 * 300)
    assert spk.played_ms("a") == pytest.approx(300)
    assert spk.queued_ms() == 0
    await spk.wait_idle()
    await spk.close()
    await spk.close()  # idempotent


class VirtualTime:
    """A clock that moves only when the mic sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.t = 100.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.t += s
        self.slept += s


async def frames_after_a_pause(tmp_path: Path, caller: str) -> tuple[float, int]:
    """Read 10 frames, stop reading for 1 s, then read 50 more: (s slept for them, last t_ms)."""
    path = write_wav(tmp_path / "q.wav", b"\x10\x00" * 16000 * 3)
    vt = VirtualTime()
    mic = WavMic(FileInput(path=path, caller=caller, tail_silence_ms=0), vt, vt.sleep)
    it = aiter(mic.frames())
    for _ in range(10):
        await anext(it)
    vt.t += 1.0  # the daemon held the mic (it was speaking)
    vt.slept = 0.0
    for _ in range(50):
        frame = await anext(it)
    return vt.slept, int(frame.t_ms)


async def test_a_timeline_caller_runs_on_the_wall_clock_whatever_the_reader_does(
    tmp_path: Path,
) -> None:
    slept, t_ms = await frames_after_a_pause(tmp_path, "timeline")
    assert t_ms == 1180  # frame 60 of the file
    assert slept == 0  # the second held back came at once: the caller did not wait


async def test_a_turns_caller_waits_for_the_reader(tmp_path: Path) -> None:
    slept, t_ms = await frames_after_a_pause(tmp_path, "turns")
    assert t_ms == 1180
    assert slept == pytest.approx(0.98, abs=0.03)  # paced from where it resumed


async def test_echo_db_mixes_what_the_file_speaker_plays_into_the_file_mic(
    tmp_path: Path,
) -> None:
    vt = VirtualTime()
    silence = write_wav(tmp_path / "quiet.wav", bytes(2 * 16000 * 2))  # 2 s of silence
    speaker = WavSpeaker(FileOutput(path=tmp_path / "r.wav", speed=1.0), clock=vt)
    mic = WavMic(FileInput(path=silence, echo_db=-12.0, tail_silence_ms=0), vt, vt.sleep)
    mic.hear(speaker)
    t = np.arange(24000) / 24000
    tone = (10000 * np.sin(2 * np.pi * 300 * t)).astype("<i2")  # 1 s at 24 kHz
    heard = []
    async for frame in mic.frames():
        if len(heard) == 10:
            speaker.write("item_1", tone.tobytes())
        heard.append(np.frombuffer(frame.pcm, dtype="<i2"))
    echo = np.concatenate(heard).astype(np.float64)
    assert np.abs(echo[: 10 * 320]).max() == 0  # nothing before it played
    middle = echo[20 * 320 : 50 * 320]
    ratio_db = 20 * np.log10(np.sqrt(np.mean(middle**2)) / (10000 / np.sqrt(2)))
    assert ratio_db == pytest.approx(-12.0, abs=1.0)
    assert np.abs(echo[65 * 320 :]).max() < 50  # and nothing after it
    assert speaker.heard_ms("item_1") == speaker.received_ms("item_1") == 1000
    await speaker.close()
