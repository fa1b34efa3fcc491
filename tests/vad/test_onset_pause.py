"""The onset pause: on a mic learnt not to hear the speaker, a sudden rise pauses at once.

Pure: a scripted score function stands for the model, the echo reference is fed what a
speaker played (noise bursts at -6 dBFS) while the mic hears only the room (-60 dBFS).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from device.vad.detector import (
    Decision,
    SpeechDetector,
    SpeechStarted,
    SpeechSuspected,
    SuspicionCleared,
)
from device.vad.echo import EchoReference
from device.vad.settings import BargeInSettings

RATE = 16000
ONSET = int(2.0 * RATE)  # the learning takes the first second or so of the reply


def played(n: int) -> np.ndarray:
    """A reply: 150 ms bursts of noise at about -6 dBFS with 50 ms gaps."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 0.5 * 32767 / 3, n)
    x[(np.arange(n) // 800) % 4 == 3] = 0.0
    return np.clip(x, -32768, 32767).astype(np.int16)


def mic(n: int, *, echo_db: float | None = None, sound_db: float = -20.0) -> np.ndarray:
    """The room (-60 dBFS), a sound from ``ONSET`` on for 300 ms, the reply at ``echo_db``."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 32.0, n)
    x[ONSET : ONSET + RATE * 3 // 10] += rng.normal(
        0, 32767 * 10 ** (sound_db / 20), RATE * 3 // 10
    )
    if echo_db is not None:
        x[160:] += played(n)[:-160].astype(np.float64) * 10 ** (echo_db / 20)
    return np.clip(x, -32768, 32767).astype(np.int16)


def run(
    audio: np.ndarray, score: Callable[[np.ndarray], float], *, onset_pause: bool = True
) -> tuple[list[Decision], EchoReference]:
    echo = EchoReference(max_delay_ms=400)
    detector = SpeechDetector(
        score,
        BargeInSettings(),
        echo=echo,
        reset=lambda: None,
        onset_pause=onset_pause,
    )
    reply = played(len(audio))
    out: list[Decision] = []
    for i in range(0, len(audio), 320):  # 20 ms frames, the reference just ahead
        echo.add_played(reply[i : i + 320], i)
        echo.add_mic(audio[i : i + 320], i)
        out += detector.feed(audio[i : i + 320])
    return out, echo


def after_onset_ms(sample: int) -> float:
    return (sample - ONSET) * 1000 / RATE


def test_a_sudden_sound_on_a_mic_that_does_not_hear_the_speaker_pauses_at_once() -> None:
    # the model never takes it for speech (a door, a cough): paused, then the reply goes on
    decisions, echo = run(mic(3 * RATE), lambda w: 0.0)
    assert echo.path.inaudible
    suspected = [d for d in decisions if isinstance(d, SpeechSuspected)]
    assert len(suspected) == 1 and suspected[0].onset
    assert 0 <= after_onset_ms(suspected[0].start_sample) <= 10  # its first 10 ms block
    cleared = [d for d in decisions if isinstance(d, SuspicionCleared)]
    assert len(cleared) == 1 and after_onset_ms(cleared[0].end_sample) <= 300
    assert not [d for d in decisions if isinstance(d, SpeechStarted)]


def test_the_model_renews_the_pause_and_confirms_the_caller() -> None:
    def score(window: np.ndarray) -> float:  # the model hears speech in the loud windows
        return 0.9 if float(np.abs(window).max()) > 0.05 else 0.0

    decisions, _ = run(mic(3 * RATE), score)
    kinds = [(type(d).__name__, getattr(d, "renewed", None)) for d in decisions]
    assert kinds[:3] == [
        ("SpeechSuspected", False),
        ("SpeechSuspected", True),
        ("SpeechStarted", None),
    ], kinds
    assert not [d for d in decisions if isinstance(d, SuspicionCleared)]


def test_no_onset_pause_where_the_mic_hears_the_speaker_or_when_off() -> None:
    # 12 dB down: the rises are the device's own voice; the model (silent here) decides
    decisions, echo = run(mic(3 * RATE, echo_db=-12.0), lambda w: 0.0)
    assert not echo.path.inaudible and decisions == []
    decisions, _ = run(mic(3 * RATE), lambda w: 0.0, onset_pause=False)
    assert decisions == []


def test_a_second_sound_within_a_second_does_not_pause_again() -> None:
    audio = mic(4 * RATE)
    later = ONSET + RATE * 6 // 10  # a cough's second burst
    audio[later : later + RATE // 5] = mic(4 * RATE)[ONSET : ONSET + RATE // 5]
    decisions, _ = run(audio, lambda w: 0.0)
    assert len([d for d in decisions if isinstance(d, SpeechSuspected)]) == 1
