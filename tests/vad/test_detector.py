"""The speech detector with the real Silero model, and the echo reference, on made sounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soxr

from device.vad.detector import (
    SpeechDetector,
    SpeechStarted,
    SpeechStopped,
    SpeechSuspected,
    SuspicionCleared,
)
from device.vad.echo import EchoReference
from device.vad.settings import BargeInSettings
from device.vad.silero import SileroModel, VadModelError
from tests.pulse import read_wav_mono
from tests.vad.sounds import Sounds, make_sounds

RATE = 16000


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Sounds:
    return make_sounds(tmp_path_factory.mktemp("sounds"))


@pytest.fixture(scope="module")
def model() -> SileroModel:
    return SileroModel()


def at_peak(x: np.ndarray, dbfs: float) -> np.ndarray:
    x = x.astype(np.float64)
    return x * (10 ** (dbfs / 20) * 32767 / np.abs(x).max())


def room(n: int, seed: int = 0) -> np.ndarray:
    """Quiet room noise (about -60 dBFS)."""
    return np.random.default_rng(seed).normal(0, 30, n)


def pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -32768, 32767).astype(np.int16)


def feed(
    detector: SpeechDetector,
    audio: np.ndarray,
    echo: EchoReference | None = None,
    reference: np.ndarray | None = None,
    lead: int = 0,
) -> list:
    """20 ms frames, as the capture pipeline gives them (with the reference just ahead)."""
    out = []
    for i in range(0, len(audio), 320):
        if echo is not None and reference is not None:
            echo.add_played(reference[i + lead : i + lead + 320], i + lead)
            echo.add_mic(audio[i : i + 320], i)
        out += detector.feed(audio[i : i + 320])
    return out


def onset(x: np.ndarray, at: int) -> int:
    return at + int(np.flatnonzero(np.abs(x) > 300)[0])


def test_speech_starts_soon_after_its_onset_and_stops_after_it(
    model: SileroModel, sounds: Sounds
) -> None:
    caller, _ = read_wav_mono(sounds.caller)
    audio = room(RATE * 4)
    audio[RATE : RATE + len(caller)] += caller
    model.reset()
    decisions = feed(SpeechDetector(model.probability, BargeInSettings()), pcm(audio))
    starts = [d for d in decisions if isinstance(d, SpeechStarted)]
    stops = [d for d in decisions if isinstance(d, SpeechStopped)]
    first = onset(caller, RATE)
    assert starts and abs(starts[0].start_sample - first) <= 0.1 * RATE  # within 100 ms
    assert stops and stops[-1].end_sample >= RATE + len(caller) - 0.4 * RATE
    assert len(starts) <= 3  # a phrase, not a start per syllable


@pytest.mark.parametrize("name", ["door_slam", "cough", "trolley"])
def test_noises_are_not_speech(model: SileroModel, sounds: Sounds, name: str) -> None:
    noise, _ = read_wav_mono(sounds.noises[name])
    audio = room(RATE * 5)
    for at in (0.5, 2.0, 3.5):  # three of them, at -6 dBFS
        start = int(at * RATE)
        audio[start : start + len(noise)] += at_peak(noise, -6.0)[: len(audio) - start]
    model.reset()
    decisions = feed(SpeechDetector(model.probability, BargeInSettings()), pcm(audio))
    # a noise may pause the reply for a moment (a suspicion) but never cuts it off, and
    # every pause ends
    assert not [d for d in decisions if isinstance(d, SpeechStarted | SpeechStopped)]
    suspected = [d for d in decisions if isinstance(d, SpeechSuspected)]
    assert len(suspected) == len([d for d in decisions if isinstance(d, SuspicionCleared)])


def test_far_away_speech_under_min_level_does_not_count(model: SileroModel, sounds: Sounds) -> None:
    caller, _ = read_wav_mono(sounds.caller)
    audio = np.zeros(RATE * 4)
    audio[RATE : RATE + len(caller)] += at_peak(caller, -52.0)
    detector = SpeechDetector(model.probability, BargeInSettings(min_level_dbfs=-50))
    detector.trace = []
    model.reset()
    assert feed(detector, pcm(audio)) == []
    assert max(w.probability for w in detector.trace) > 0.6  # the model alone would fire


def test_min_speech_ms_ignores_a_blip(model: SileroModel, sounds: Sounds) -> None:
    caller, _ = read_wav_mono(sounds.caller)
    first = int(np.flatnonzero(np.abs(caller) > 300)[0])
    audio = room(RATE * 3)
    blip = caller[first : first + int(0.12 * RATE)]  # 120 ms of the phrase
    audio[RATE : RATE + len(blip)] += blip
    model.reset()
    slow = BargeInSettings(min_speech_ms=300)
    decisions = feed(SpeechDetector(model.probability, slow), pcm(audio))
    assert not [d for d in decisions if isinstance(d, SpeechStarted)]
    model.reset()
    fast = feed(SpeechDetector(model.probability, BargeInSettings(min_speech_ms=64)), pcm(audio))
    assert any(isinstance(d, SpeechStarted) for d in fast)  # a shorter one hears it
    model.reset()
    held = feed(SpeechDetector(model.probability, BargeInSettings()), pcm(audio))
    assert any(isinstance(d, SpeechSuspected) for d in held)  # the default pauses for it
    assert not any(isinstance(d, SpeechStarted) for d in held)  # and asks for 128 ms
    model.reset()
    software = SpeechDetector(model.probability, BargeInSettings(), echo_mode="software")
    # behind the sound server's canceller the default confirmation is the shorter one
    assert any(isinstance(d, SpeechStarted) for d in feed(software, pcm(audio)))


# Recorded on the echo rig (tests/vad/rig.py), the hardware-mode mic (a mic array's
# processed channel: the room in full, the reply's echo 35 dB down) from the start of a
# reply to 300 ms after a caller's onset ("Sorry, ..." from tests/vad/sounds.py) at
# HARDWARE_ONSET_MS: its first window after the onset scores 0.45, the next 0.68.
HARDWARE_CALLER = Path(__file__).parent / "data/hardware_caller_onset.wav"
HARDWARE_ONSET_MS = 852.9


def test_a_caller_whose_first_window_scores_under_one_half_pauses_the_reply_at_it(
    model: SileroModel,
) -> None:
    """A caller's "s" scores low: with the default hold_threshold (0.4) the reply pauses on
    the window that ends 11 ms after the onset, not one window (32 ms) later, and the
    barge-in is confirmed after it. (Across the rig's trials a caller's first window scored
    0.4-0.5 in about one in six; with 0.5 each of them stopped the reply 32 ms later.)"""
    audio, rate = read_wav_mono(HARDWARE_CALLER)
    assert rate == RATE
    model.reset()
    detector = SpeechDetector(
        model.probability, BargeInSettings(), reset=model.reset, echo_mode="hardware"
    )
    decisions = feed(detector, audio)
    onset = HARDWARE_ONSET_MS * RATE / 1000
    suspected = [d for d in decisions if isinstance(d, SpeechSuspected)]
    started = [d for d in decisions if isinstance(d, SpeechStarted)]
    assert len(suspected) == 1 and started  # nothing before the caller; then confirmed
    assert 0 < (suspected[0].start_sample + 512 - onset) * 1000 / RATE <= 20


def echo_of(reply: np.ndarray, n: int, delay_ms: int, peak_dbfs: float) -> np.ndarray:
    echo = np.zeros(n)
    d = RATE * delay_ms // 1000
    echo[d : d + len(reply)] = at_peak(reply, peak_dbfs)[: n - d]
    return echo


def test_reference_mode_ignores_the_echo_and_hears_the_caller_over_it(
    model: SileroModel, sounds: Sounds
) -> None:
    reply24, _ = read_wav_mono(sounds.replies[0])
    reply = soxr.resample(reply24.astype(np.float32), 24000, RATE).astype(np.int16)
    caller, _ = read_wav_mono(sounds.caller)
    n = len(reply) + RATE
    played = pcm(np.pad(reply.astype(np.float64), (0, RATE)))
    # nobody speaks: the echo, 45 ms late, peaking at -12 dBFS
    echo = EchoReference(max_delay_ms=400)
    detector = SpeechDetector(
        model.probability, BargeInSettings(), echo=echo, margin_db=10, reset=model.reset
    )
    model.reset()
    assert feed(detector, pcm(echo_of(reply, n, 45, -12) + room(n)), echo, played, 0) == []
    assert echo.delay_ms == pytest.approx(45, abs=10)
    # the caller cuts in 2 s into the reply, over the echo (the detector keeps its estimate)
    audio = echo_of(reply, n, 45, -12) + room(n, 1)
    audio[2 * RATE : 2 * RATE + len(caller)] += caller
    model.reset()
    detector.reset()
    starts = [
        d for d in feed(detector, pcm(audio), echo, played, 0) if isinstance(d, SpeechStarted)
    ]
    assert starts and abs(starts[0].start_sample - onset(caller, 2 * RATE)) <= 0.15 * RATE


def test_echo_estimate_is_pessimistic_until_the_delay_is_found() -> None:
    echo = EchoReference(max_delay_ms=400)
    tone = (8000 * np.sin(np.arange(RATE // 10) / 3)).astype(np.int16)  # 100 ms, -12 dBFS
    echo.add_mic(np.zeros(320, np.int16), 0)
    echo.add_played(tone, 3200)
    assert echo.delay_ms is None
    # anywhere in the 400 ms after it played, the echo may be as loud as the playback
    level = echo.echo_level_db(3200 + 3000, 3200 + 3512)
    assert level == pytest.approx(20 * np.log10(8000 / 32768) - 3, abs=1)  # a sine's power
    assert echo.echo_level_db(3200 + RATE, 3200 + RATE + 512) == -120.0  # long after


def test_a_missing_model_file_is_one_line_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "vad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(VadModelError) as err:
        SileroModel(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["door_slam", "cough", "trolley"])
def test_reference_mode_ignores_a_noise_over_the_echo(
    model: SileroModel, sounds: Sounds, name: str
) -> None:
    reply24, _ = read_wav_mono(sounds.replies[1])
    reply = soxr.resample(reply24.astype(np.float32), 24000, RATE).astype(np.int16)
    noise, _ = read_wav_mono(sounds.noises[name])
    n = len(reply) + RATE
    played = pcm(np.pad(reply.astype(np.float64), (0, RATE)))
    audio = echo_of(reply, n, 45, -12) + room(n, 2)
    at = int(1.2 * RATE)  # as loud as the echo, over the device's voice
    audio[at : at + len(noise)] += at_peak(noise, -12.0)[: n - at]
    echo = EchoReference(max_delay_ms=400)
    detector = SpeechDetector(
        model.probability, BargeInSettings(), echo=echo, margin_db=10, reset=model.reset
    )
    model.reset()
    assert feed(detector, pcm(echo_of(reply, n, 45, -12) + room(n)), echo, played, 0) == []
    assert echo.delay_ms is not None  # the echo path is known from the first reply
    model.reset()
    detector.reset()
    detector.trace = []
    decisions = feed(detector, pcm(audio), echo, played, 0)
    assert not [d for d in decisions if isinstance(d, SpeechStarted)]
    loud = [w for w in detector.trace if at <= w.start_sample < at + len(noise)]
    assert any(w.level_dbfs >= (w.echo_dbfs or 0) - 5 for w in loud)  # it was not hidden


def test_reference_mode_a_trolley_during_a_pause_is_not_a_caller(
    model: SileroModel, sounds: Sounds
) -> None:
    """A suspicion paused the reply; a trolley rolls by while nothing plays. With the echo
    gone the detector hears the mic as it is: a rumble is no voice (a cut below 250 Hz had
    left its upper band, which the model took for speech, and the reply was cut off)."""
    reply24, _ = read_wav_mono(sounds.replies[2])
    reply = soxr.resample(reply24.astype(np.float32), 24000, RATE).astype(np.float64)
    trolley, _ = read_wav_mono(sounds.noises["trolley"])
    pause_at, pause = RATE, int(1.2 * RATE)
    paused = np.concatenate([reply[:pause_at], np.zeros(pause), reply[pause_at:]])
    n = len(paused) + RATE
    played = pcm(np.pad(paused, (0, RATE)))
    echo = EchoReference(max_delay_ms=400)
    detector = SpeechDetector(
        model.probability, BargeInSettings(), echo=echo, margin_db=10, reset=model.reset
    )
    heard = echo_of(paused, n, 45, -12)  # the device's voice in the mic, paused too
    model.reset()
    assert feed(detector, pcm(heard + room(n)), echo, played, 0) == []
    assert echo.delay_ms is not None
    audio = heard + room(n, 3)
    at = pause_at + RATE // 4  # 250 ms into the pause (the echo has died), as loud as it was
    audio[at : at + len(trolley)] += at_peak(trolley, -12.0)[: n - at]
    model.reset()
    detector.reset()
    detector.trace = []
    decisions = feed(detector, pcm(audio), echo, played, 0)
    assert not [d for d in decisions if isinstance(d, SpeechStarted)]
    in_pause = [w for w in detector.trace if at <= w.start_sample < pause_at + pause - 2048]
    assert in_pause and all(w.echo_dbfs is not None and w.echo_dbfs < -60 for w in in_pause)
    assert max(w.probability for w in in_pause) < BargeInSettings().hold_threshold


@pytest.mark.parametrize("echo_peak_dbfs", [None, -31.0], ids=["no_echo", "30db_down"])
def test_reference_mode_a_caller_over_the_first_reply_on_a_mic_that_hears_little_interrupts(
    model: SileroModel, sounds: Sounds, echo_peak_dbfs: float | None
) -> None:
    """A headset, a mic array with its own canceller, a speaker across the room: the mic
    hears the speaker weakly or not at all. What it did not hear of the first second of
    the reply is learnt, and a caller at a normal level 1.5 s into the first reply of the
    day interrupts it as soon as over a silent speaker (once, nothing heard of it was
    taken for as loud as the playback, and the caller was never heard)."""
    reply24, _ = read_wav_mono(sounds.replies[0])
    reply = soxr.resample(reply24.astype(np.float32), 24000, RATE).astype(np.int16)
    caller, _ = read_wav_mono(sounds.caller)
    n = len(reply) + RATE
    played = pcm(np.pad(reply.astype(np.float64), (0, RATE)))
    audio = room(n, 4)
    if echo_peak_dbfs is not None:
        audio += echo_of(reply, n, 45, echo_peak_dbfs)
    at = int(1.5 * RATE)
    audio[at : at + len(caller)] += caller[: n - at]
    echo = EchoReference(max_delay_ms=400)
    detector = SpeechDetector(
        model.probability, BargeInSettings(), echo=echo, margin_db=10, reset=model.reset
    )
    model.reset()
    decisions = feed(detector, pcm(audio), echo, played, 0)
    starts = [d for d in decisions if isinstance(d, SpeechStarted)]
    first = onset(caller, at)
    assert starts and starts[0].start_sample >= first - 512  # nothing before the caller
    assert (starts[0].start_sample - first) * 1000 / RATE <= 100  # and at its first words
    if echo_peak_dbfs is None:
        assert echo.delay_ms is None  # nothing to find: judged by what the mic did not hear
