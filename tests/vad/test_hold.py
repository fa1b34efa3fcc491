"""Pausing the reply on a suspected barge-in: the detector's decisions, the listener's
calls on the speaker (scripted probabilities: the rules, not the model)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from device.vad.detector import (
    WINDOW,
    SpeechDetector,
)
from device.vad.listener import HOLD_SLACK_MS, VadListener
from device.vad.settings import BargeInSettings, EchoSettings
from device.vad.silero import SileroModel

SETTINGS = BargeInSettings(threshold=0.7, min_speech_ms=64, hold_threshold=0.5, hold_ms=160)


def loud(windows: int) -> np.ndarray:
    """A tone at about -20 dBFS: every window passes the level bar."""
    t = np.arange(windows * WINDOW)
    return (3000 * np.sin(2 * np.pi * 300 * t / 16000)).astype(np.int16)


def run(probabilities: list[float], settings: BargeInSettings = SETTINGS) -> list[tuple]:
    """The decisions, as (kind, window index), of windows scored ``probabilities``: the
    window a suspicion or a start names, the last window before a clearing."""
    scores: Iterator[float] = iter(probabilities)
    detector = SpeechDetector(lambda _w: next(scores), settings)
    out = []
    for i in range(len(probabilities)):
        for d in detector.feed(loud(1)):
            sample = getattr(d, "start_sample", None)
            if sample is None:
                sample = d.end_sample - WINDOW  # type: ignore[union-attr]
            out.append((type(d).__name__, sample // WINDOW))
        assert detector.position == (i + 1) * WINDOW
    return out


def test_the_first_likely_window_is_suspected_and_the_confirmation_follows() -> None:
    assert run([0.1, 0.55, 0.8, 0.9, 0.9]) == [
        ("SpeechSuspected", 1),
        ("SpeechStarted", 2),  # with window 3
    ]


def test_a_suspicion_clears_after_min_silence_ms_of_calm_windows() -> None:
    # 0.4 is under the hold bar but not calm (under 0.6 of it, 0.3): the hold stays
    assert run([0.6, 0.4, 0.2, 0.1, 0.0, 0.0]) == [
        ("SpeechSuspected", 0),
        ("SuspicionCleared", 4),  # the third calm window: 96 ms
    ]


def test_an_unconfirmed_suspicion_expires_and_is_not_raised_again_at_once() -> None:
    probabilities = [0.6] * 12 + [0.0, 0.0, 0.0, 0.6]
    assert run(probabilities) == [
        ("SpeechSuspected", 0),
        ("SuspicionCleared", 5),  # 160 ms: five windows after it
        ("SpeechSuspected", 15),  # only after a calm run
    ]


def test_clear_speech_is_suspected_at_once_and_nothing_is_without_hold() -> None:
    # the start names its first speech window; it comes with the second
    assert run([0.9, 0.9, 0.9]) == [("SpeechSuspected", 0), ("SpeechStarted", 0)]
    off = dataclasses.replace(SETTINGS, hold_ms=0)
    assert run([0.6, 0.9, 0.9], off) == [("SpeechStarted", 1)]


class Speaker:
    """Records the listener's calls, and from which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None]] = []
        self.threads: set[str] = set()
        self.resumed = threading.Event()

    def hold(self, max_ms: float) -> None:
        self.calls.append(("hold", max_ms))
        self.threads.add(threading.current_thread().name)

    def resume(self) -> None:
        self.calls.append(("resume", None))
        self.threads.add(threading.current_thread().name)
        self.resumed.set()


class Scripted(SileroModel):
    """The real model's interface, scores from a script (then 0)."""

    def __init__(self, probabilities: list[float]) -> None:
        super().__init__()
        self.script = list(probabilities)

    def probability(self, window: np.ndarray) -> float:
        return self.script.pop(0) if self.script else 0.0


def speak(vad: VadListener, audio: np.ndarray) -> None:
    """``audio`` into the listener in 20 ms frames, as the capture fan-out gives it."""
    for i in range(0, len(audio), 320):
        vad.consumer(audio[i : i + 320])


@pytest.mark.parametrize("mode", ["hardware", "reference"])
def test_the_listener_pauses_the_speaker_and_lets_it_go_on(mode: str) -> None:
    speaker, starts = Speaker(), list[int]()
    pauses: list[tuple[float, bool]] = []
    model = Scripted([0.6, 0.55, 0.1, 0.0])
    vad = VadListener(
        SETTINGS,
        EchoSettings(mode=mode),  # type: ignore[arg-type]
        starts.append,
        model=model,
        on_pause=lambda ms, expired: pauses.append((ms, expired)),
    )
    vad.consumer(np.zeros(320, np.int16))  # the mic clock starts
    vad.start(playback=speaker)
    speak(vad, loud(6))
    assert vad.sync()
    vad.close()
    assert speaker.calls == [("hold", 160 + HOLD_SLACK_MS), ("resume", None)]
    assert speaker.threads == {"local-vad"} and starts == []
    assert (vad.holds, vad.holds_resumed) == (1, 1)
    assert vad.longest_hiccup_ms == pytest.approx(128, abs=1)  # four windows held
    # the timeline hears of the pause the caller heard: how long, and that the sound ended
    assert len(pauses) == 1 and pauses[0][0] == pytest.approx(128, abs=1)
    assert pauses[0][1] is False


def test_a_pause_that_runs_its_longest_is_reported_as_expired_and_only_real_pauses() -> None:
    pauses: list[tuple[float, bool]] = []
    for playback in (Speaker(), None):
        vad = VadListener(
            SETTINGS,
            EchoSettings(mode="hardware"),
            lambda s: None,
            model=Scripted([0.6] + [0.45] * 8),  # likely, then never calm nor confirmed
            on_pause=lambda ms, expired: pauses.append((ms, expired)),
        )
        vad.start(playback=playback)
        speak(vad, loud(9))
        assert vad.sync()
        vad.close()
        assert vad.holds_resumed == 1
    # with a speaker: paused for hold_ms (160) and then some; without one nothing paused
    assert len(pauses) == 1 and pauses[0][1] is True and pauses[0][0] >= 160


def test_a_listener_stopped_during_a_hold_resumes_the_reply() -> None:
    speaker = Speaker()
    vad = VadListener(
        SETTINGS, EchoSettings(mode="hardware"), lambda s: None, model=Scripted([0.6])
    )
    vad.start(playback=speaker)
    vad.consumer(loud(1)[:320])
    vad.consumer(loud(1)[:320])
    vad.stop()  # the device stopped speaking for its own reasons: no pause may be left
    assert vad.sync()
    vad.close()
    assert speaker.calls == [("hold", 160 + HOLD_SLACK_MS), ("resume", None)]


def test_after_the_barge_in_a_stream_pauses_nothing_more() -> None:
    """Its flush ended the pause; one more (the caller's next word) would only hold back
    the next reply."""
    speaker, starts = Speaker(), list[int]()
    model = Scripted([0.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.6, 0.6])
    vad = VadListener(SETTINGS, EchoSettings(mode="hardware"), starts.append, model=model)
    vad.start(playback=speaker)
    speak(vad, loud(8))
    assert vad.sync()
    vad.close()
    assert starts == [0] and vad.holds == 2  # suspected twice
    assert speaker.calls == [("hold", 160 + HOLD_SLACK_MS)]  # paused once
