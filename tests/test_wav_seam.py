"""The file implementations of the audio seam: WAV microphone and WAV speaker."""

from __future__ import annotations

import wave
from pathlib import Path

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
