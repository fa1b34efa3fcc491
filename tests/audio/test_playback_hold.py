"""Pausing a reply on a suspected barge-in: the playback buffer and the file speaker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from device.audio.playback import PlaybackBuffer
from device.audio.settings import FileOutput
from device.audio.wav import WavSpeaker, read_wav

PERIOD = 480  # 10 ms at 48 kHz


def ramp(n: int) -> bytes:
    """Samples 1, 2, 3, ... : where playback goes on is visible in the output."""
    return np.arange(1, n + 1, dtype="<i2").tobytes()


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2")


def test_a_hold_plays_silence_then_goes_on_where_it_paused() -> None:
    buf = PlaybackBuffer(48000, prebuffer_ms=0)
    buf.write("a", ramp(PERIOD * 10))
    first = samples(buf.pull(PERIOD, 0.0))
    buf.hold(PERIOD * 5)
    assert buf.is_held
    paused = [buf.pull(PERIOD, 0.01 * (k + 1)) for k in range(2)]
    assert all(p == bytes(PERIOD * 2) for p in paused)
    assert buf.queued_samples == PERIOD * 9  # nothing was dropped
    assert buf.heard_ms("a", 1.0) == 10  # the silence does not count as the item heard
    buf.resume()
    assert not buf.is_held
    after = samples(buf.pull(PERIOD, 0.03))
    assert after[0] == first[-1] + 1  # the very next sample
    assert (buf.holds, buf.holds_resumed, buf.underruns) == (1, 1, 0)


def test_a_hold_ends_by_itself_after_its_bound() -> None:
    buf = PlaybackBuffer(48000, prebuffer_ms=0)
    buf.write("a", ramp(PERIOD * 10))
    buf.pull(PERIOD)
    buf.hold(PERIOD * 3)
    pulls = [buf.pull(PERIOD) for _ in range(5)]
    assert [any(p) for p in pulls] == [False, False, False, True, True]
    assert buf.holds_resumed == 1
    assert buf.played_ms("a") == 30


def test_a_flush_during_a_hold_drops_the_reply_and_is_no_hiccup() -> None:
    buf = PlaybackBuffer(48000, prebuffer_ms=0)
    buf.write("a", ramp(PERIOD * 10))
    buf.pull(PERIOD, 0.0)
    buf.hold(PERIOD * 10)
    buf.pull(PERIOD, 0.01)
    assert buf.flush() == PERIOD * 9
    assert not buf.is_held and buf.pull(PERIOD) == bytes(PERIOD * 2)
    assert buf.heard_ms("a", 0.0) == 10  # the truncation point: what was handed out
    assert (buf.holds, buf.holds_resumed) == (1, 0)


def test_holding_again_extends_and_never_shortens_the_hold() -> None:
    buf = PlaybackBuffer(48000, prebuffer_ms=0)
    buf.write("a", ramp(PERIOD * 10))
    buf.hold(PERIOD * 4)
    buf.pull(PERIOD)
    buf.hold(PERIOD * 2)  # shorter than what is left: no change
    pulls = [any(buf.pull(PERIOD)) for _ in range(4)]
    assert pulls == [False, False, False, True]
    assert buf.holds == 1


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def test_the_file_speaker_pauses_and_goes_on_without_losing_audio(tmp_path: Path) -> None:
    clock = FakeClock()
    out = tmp_path / "reply.wav"
    spk = WavSpeaker(FileOutput(path=out, speed=1.0), clock=clock)
    spk.write("a", b"\x01\x00" * 24 * 500)  # 500 ms
    clock.t += 0.100
    spk.hold(200)
    clock.t += 0.050
    assert spk.played_ms("a") == pytest.approx(100, abs=0.1)  # nothing played while held
    spk.resume()
    clock.t += 0.100
    assert spk.played_ms("a") == pytest.approx(200, abs=0.1)  # goes on where it paused
    spk.hold(80)
    clock.t += 0.300  # the hold ran out after 80 ms: 220 ms more played since
    assert spk.played_ms("a") == pytest.approx(420, abs=0.25)
    spk.hold(100)
    clock.t += 0.020
    spk.flush()  # the barge-in confirmed: the rest is dropped
    clock.t += 1.0
    assert spk.played_ms("a") == pytest.approx(420, abs=0.25)
    await spk.close()
    pcm, _, _ = read_wav(out)
    assert len(pcm) == pytest.approx(420 * 48, abs=8)  # 24 kHz PCM16: 48 bytes per ms
