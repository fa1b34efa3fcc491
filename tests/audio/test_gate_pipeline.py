"""Pure audio core: noise gate, pre-roll, gated capture pipeline, playback buffer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from device.audio.frames import SPEECH_RATE_HZ, AudioFrame
from device.audio.gate import NoiseGate, speech_level_db
from device.audio.pipeline import CapturePipeline
from device.audio.playback import PlaybackBuffer
from device.audio.preroll import PreRoll
from device.audio.resample import StreamResampler
from device.audio.settings import GateSettings

RATE = 16000
rng = np.random.default_rng(7)


def noise(ms: int, dbfs: float) -> np.ndarray:
    x = rng.standard_normal(RATE * ms // 1000)
    return (x * 32768 * 10 ** (dbfs / 20)).astype("<i2")


def voice(ms: int, dbfs: float, hz: float = 700.0) -> np.ndarray:
    t = np.arange(RATE * ms // 1000) / RATE
    return (np.sin(2 * np.pi * hz * t) * 32768 * np.sqrt(2) * 10 ** (dbfs / 20)).astype("<i2")


def run(pipe: CapturePipeline, samples: np.ndarray) -> list[bytes]:
    out: list[bytes] = []
    step = RATE // 50
    for i in range(0, len(samples), step):
        block = samples[i : i + step]
        out += pipe.process(AudioFrame(block.tobytes(), RATE, 1, i * 1000 / RATE))
    return out


def mix(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate(parts).astype("<i2")


def test_level_is_about_dbfs_in_the_speech_band_and_ignores_hum() -> None:
    assert speech_level_db(voice(20, -20.0), RATE) == pytest.approx(-20.0, abs=1.0)
    assert speech_level_db(voice(20, -20.0, hz=100.0), RATE) < -50.0  # mains hum / rumble
    assert speech_level_db(np.zeros(320, dtype="<i2"), RATE) <= -100.0


def test_gate_floor_follows_a_machine_that_starts() -> None:
    gate = NoiseGate(GateSettings(floor_window_s=2.0), block_ms=10)
    for _ in range(300):
        gate.update(-60.0)
    assert gate.floor_db == pytest.approx(-60.0)
    opened = [gate.update(-35.0) for _ in range(500)]  # a machine starts: 25 dB louder
    assert opened[10]  # at first it looks like someone speaking
    assert not opened[-1]  # within a few seconds it is the new floor and the gate closes
    assert gate.floor_db == pytest.approx(-35.0)


def test_gate_floor_is_the_percentile_of_the_recent_levels() -> None:
    """Every 100 ms the floor is exactly numpy's percentile of the last floor_window_s."""
    gate = NoiseGate(GateSettings(floor_window_s=0.5, floor_percentile=15.0), block_ms=10)
    levels = (rng.standard_normal(600) * 8.0 - 55.0).astype(np.float32).tolist()
    for t, level in enumerate(levels, start=1):
        gate.update(level)
        if t < 10 or (t - 9) % 10 == 0:  # each block at first, then every 10th
            assert gate.floor_db == np.percentile(levels[max(0, t - 50) : t], 15.0), t


def test_gate_attack_ignores_clangs_and_hangover_bridges_pauses() -> None:
    s = GateSettings(attack_ms=60, hangover_ms=800, open_db=10, close_db=5)
    gate = NoiseGate(s, block_ms=10)
    for _ in range(200):
        gate.update(-60.0)
    assert not any(gate.update(-20.0) for _ in range(5))  # a 50 ms clang
    for _ in range(20):
        gate.update(-60.0)
    assert [gate.update(-20.0) for _ in range(6)][-1]  # 60 ms of voice opens it
    assert all(gate.update(-60.0) for _ in range(79))  # a 790 ms pause keeps it open
    assert gate.update(-20.0)
    assert all(gate.update(-53.0) for _ in range(79))  # within close_db: still "voice"
    results = [gate.update(-60.0) for _ in range(80)]
    assert results[78] and not results[79]  # closes exactly after the 800 ms hangover


def test_gate_min_open_level_keeps_a_silent_room_closed() -> None:
    gate = NoiseGate(GateSettings(min_open_dbfs=-55.0), block_ms=10)
    for _ in range(300):
        gate.update(-100.0)
    assert not any(gate.update(-70.0) for _ in range(100))  # 30 dB over floor, still quiet
    assert any(gate.update(-40.0) for _ in range(100))


def test_close_above_open_is_refused() -> None:
    with pytest.raises(ValueError, match=r"close_db 12\.0 is above open_db 10\.0"):
        GateSettings(open_db=10.0, close_db=12.0)


def test_preroll_keeps_the_latest_blocks_in_order() -> None:
    ring = PreRoll(3, block_samples=2)
    for i in range(5):
        ring.push(i * 10, np.full(2 if i != 3 else 1, i, dtype=np.int16))
    kept = [(pos, samples.tolist()) for pos, samples in ring.take()]
    assert kept == [(20, [2, 2]), (30, [3]), (40, [4, 4])]
    assert ring.take() == [] and len(ring) == 0
    empty = PreRoll(0, block_samples=2)
    empty.push(0, np.ones(2, dtype=np.int16))
    assert empty.take() == []


def test_gated_pipeline_uploads_speech_with_preroll_and_hangover_only() -> None:
    s = GateSettings(preroll_ms=300, hangover_ms=800, attack_ms=60)
    pipe = CapturePipeline(RATE, 1, 0, s, chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    pipe.trace = []
    room = noise(3000, -50.0)
    speech = voice(1500, -20.0) + noise(1500, -50.0)
    out = run(pipe, mix(room, speech, noise(3000, -50.0)))
    uploaded_ms = sum(len(c) for c in out) / 48
    assert all(len(c) == 40 * 48 for c in out)
    assert 1500 + 300 + 800 - 60 <= uploaded_ms <= 1500 + 300 + 800 + 80
    first_ms = pipe.trace[0][0] / 24
    # the pre-roll: 300 ms before the gate opened (60 ms attack after the speech started)
    assert first_ms == pytest.approx(3000 + 60 - 300, abs=25)
    assert not pipe.gate_open
    assert pipe.uploaded_bytes == sum(len(c) for c in out)
    assert pipe.captured_bytes == 7500 * 32


def test_an_open_server_turn_keeps_uploading_past_the_hangover() -> None:
    """Semantic VAD may wait seconds for more audio: the server must hear the silence."""
    s = GateSettings(preroll_ms=300, hangover_ms=800, attack_ms=60)
    pipe = CapturePipeline(RATE, 1, 0, s, chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    pipe.trace = []
    run(pipe, mix(noise(3000, -50.0), voice(1000, -20.0)))
    pipe.hold_open = True  # speech_started came; speech_stopped has not
    held = run(pipe, noise(3000, -50.0))
    assert not pipe.gate_open
    assert sum(len(c) for c in held) / 48 == pytest.approx(3000, abs=40)
    pipe.set_hold_open(False)  # speech_stopped: back to the gate, which is closed
    after = run(pipe, noise(2000, -50.0))
    assert sum(len(c) for c in after) / 48 <= 40  # at most the chunk being filled
    # one continuous stream: nothing skipped, nothing sent twice
    spans = pipe.trace
    assert all(a[0] + a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_audio_sent_during_a_held_turn_is_never_sent_again_as_preroll() -> None:
    """The caller speaks again right after speech_stopped: no old audio goes up twice."""
    s = GateSettings(preroll_ms=300, hangover_ms=800, attack_ms=60)
    pipe = CapturePipeline(RATE, 1, 0, s, chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    pipe.trace = []
    run(pipe, noise(3000, -50.0))  # the pre-roll is full of room noise
    pipe.set_hold_open(True)
    run(pipe, noise(500, -50.0))  # uploaded while held
    pipe.set_hold_open(False)
    run(pipe, voice(500, -20.0))  # the gate opens 60 ms in: the pre-roll goes first
    spans = pipe.trace
    assert sum(n for _, n in spans) / 24 == pytest.approx(1000, abs=40)  # held + voice
    assert all(a[0] + a[1] <= b[0] for a, b in itertools.pairwise(spans))  # forward only


def test_first_syllable_survives_in_the_uploaded_audio() -> None:
    pipe = CapturePipeline(RATE, 1, 0, GateSettings(), chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    onset = voice(100, -20.0, hz=1000.0)  # a short first syllable
    out = b"".join(
        run(pipe, mix(noise(3000, -50.0), onset, voice(1000, -20.0), noise(2000, -50.0)))
    )
    x = np.frombuffer(out, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / 24000)
    assert spectrum[np.argmin(np.abs(freqs - 1000))] > 0.05 * spectrum.max()


def test_disabled_gate_uploads_everything_and_reset_forgets_audio() -> None:
    pipe = CapturePipeline(
        RATE, 1, 0, GateSettings(enabled=False), chunk_ms=20, upload_rate_hz=SPEECH_RATE_HZ
    )
    out = run(pipe, noise(1000, -60.0))
    assert sum(len(c) for c in out) / 48 == pytest.approx(1000, abs=50)  # filter delay + chunk
    assert pipe.gate_open
    gated = CapturePipeline(RATE, 1, 0, GateSettings(), chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    run(gated, mix(noise(2000, -50.0), voice(400, -20.0)))
    assert gated.gate_open
    gated.reset()
    assert not gated.gate_open
    after = run(gated, noise(1500, -50.0))
    assert after == []  # nothing heard before the reset is uploaded after it


def test_pipeline_gives_16k_audio_for_wake_word_when_asked() -> None:
    pipe = CapturePipeline(48000, 2, 1, GateSettings(), chunk_ms=40, upload_rate_hz=SPEECH_RATE_HZ)
    got: list[np.ndarray] = []
    pipe.subscribe_16k(got.append)
    stereo = np.zeros((960, 2), dtype="<i2")
    stereo[:, 1] = 1000
    for i in range(50):
        pipe.process(AudioFrame(stereo.tobytes(), 48000, 2, i * 20.0))
    total = sum(len(g) for g in got)
    assert total == pytest.approx(16000, abs=400)  # 1 s at 16 kHz, less the filter delay
    assert got[-1][-10:].min() > 900


def test_stream_resampler_flush_hands_out_the_tail() -> None:
    r = StreamResampler(24000, 48000)
    x = voice(1000, -20.0)
    out = sum(len(r.process(x[i : i + 240])) for i in range(0, len(x), 240))
    out += len(r.flush())
    assert out == 2 * len(x)


def test_playback_prebuffers_then_plays_and_counts_per_item() -> None:
    buf = PlaybackBuffer(48000, prebuffer_ms=40)
    buf.write("a", bytes(480 * 2 * 3))  # 30 ms: below the prebuffer
    assert buf.pull(480) == bytes(960) and buf.played_ms("a") == 0
    buf.write("a", bytes(480 * 2))  # 40 ms now: starts
    buf.pull(480)
    assert buf.played_ms("a") == 10
    buf.write("b", b"\x01\x00" * 480)
    for _ in range(4):
        buf.pull(480)
    assert buf.played_ms("a") == 40 and buf.played_ms("b") == 10 and buf.queued_ms() == 0


def test_playback_short_tail_plays_after_waiting_one_prebuffer() -> None:
    buf = PlaybackBuffer(48000, prebuffer_ms=40)
    buf.write("a", b"\x01\x00" * 240)  # 5 ms, nothing more coming
    pulls = [buf.pull(480) for _ in range(6)]
    assert buf.played_ms("a") == 5
    assert sum(1 for p in pulls if any(p)) == 1
    assert pulls.index(next(p for p in pulls if any(p))) <= 4  # within the prebuffer time


def test_playback_flush_silences_the_next_period_and_keeps_the_clock() -> None:
    buf = PlaybackBuffer(48000, prebuffer_ms=0)
    buf.write("a", b"\x01\x00" * 48000)
    buf.pull(480)
    assert buf.flush() == 48000 - 480
    assert buf.pull(480) == bytes(960)
    assert buf.played_ms("a") == 10 and buf.queued_ms() == 0
