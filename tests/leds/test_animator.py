"""The LED thread on the real clock: it wakes for a change of frame only (a blink a few times
a second, a spin every frame), shows a state change at once even mid-run, and counts a
write that overruns its frame."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from device.conversation.reports import Ready, StateChanged
from device.conversation.state import State
from device.leds.animator import Animator
from device.leds.arbiter import LedState
from device.leds.frames import FrameMaker
from device.leds.patterns import Frame, build_patterns
from device.leds.settings import LedColours, LedSettings
from tests.leds.fakes import RecordingDriver

FRAME_MS = 1000.0 / 30


class CountingLock:
    """The animator's poke lock, counting the thread's waits (each a wake)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waits = 0

    def acquire(self, *args: Any, **kwargs: Any) -> bool:
        self.waits += 1
        return self.lock.acquire(*args, **kwargs)

    def release(self) -> None:
        self.lock.release()


class Rig:
    """A FrameMaker and an Animator on the monotonic clock, counting compose calls."""

    def __init__(self, driver: RecordingDriver, *, ahead: bool = True, **settings: Any) -> None:
        s = LedSettings(**settings)
        self.t0 = time.monotonic()
        self.state = LedState(wake_flash_ms=0, handover_show_ms=0)
        self.state.report(0.0, Ready(after_ms=0.0, standby=True, offline=False))
        patterns = build_patterns(LedColours(), wake_flash_ms=0)
        self.lock = threading.Lock()
        self.maker = FrameMaker(
            self.state, self.lock, patterns, s, led_count=12, local_minutes=lambda: 600.0
        )
        self.composed = 0
        self.driver = driver
        self.animator = Animator(
            driver,
            self.compose,
            ahead=self.maker.ahead if ahead else None,
            clock_ms=self.now_ms,
            slow_ms=s.write_timeout_ms,
            frame_ms=self.maker.frame_ms,
        )
        self.waits = CountingLock()
        self.waits.acquire()  # held: not poked
        self.animator._poked = self.waits  # type: ignore[assignment]

    def now_ms(self) -> float:
        return (time.monotonic() - self.t0) * 1000.0

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """The thread runs for the ``with``; it must end at once after (no frame hangs)."""
        self.animator.start()
        try:
            yield
        finally:
            assert self.animator.stop(None, 1.0)

    def compose(self, now_ms: float) -> tuple[Frame, float | None]:
        self.composed += 1
        return self.maker.compose(now_ms)

    def show(self, old: State, new: State) -> None:
        with self.lock:
            self.state.report(self.now_ms(), StateChanged(old, new))
        self.maker.changed()
        self.animator.poke()

    def counts_over(self, seconds: float) -> tuple[int, int, int]:
        """(frames written, compose calls, waits) over ``seconds`` from now."""
        before = (len(self.driver.frames), self.composed, self.waits.waits)
        time.sleep(seconds)
        after = (len(self.driver.frames), self.composed, self.waits.waits)
        return after[0] - before[0], after[1] - before[1], after[2] - before[2]


@pytest.fixture
def driver() -> Iterator[RecordingDriver]:
    d = RecordingDriver()
    yield d
    d.release.set()


@pytest.mark.parametrize("ahead", [True, False], ids=["run", "compose"])
def test_a_blink_is_written_and_woken_for_only_when_it_changes(
    driver: RecordingDriver, ahead: bool
) -> None:
    rig = Rig(driver, ahead=ahead)
    rig.show(State.IDLE, State.ERROR)  # on 0.5 s, off 0.5 s
    with rig.running():
        assert driver.wait_for(lambda frames: any(f.name == "error" for f in frames))
        written, composed, waits = rig.counts_over(1.2)
        assert 2 <= written <= 3  # on, off (and on again): not 36 frames
        assert waits <= 4 and composed <= 4  # the thread slept between the changes
        errors = [f for f in driver.frames if f.name == "error"]
        assert all(a.pixels != b.pixels for a, b in itertools.pairwise(errors))


def test_a_spin_wakes_every_frame_without_asking_compose(driver: RecordingDriver) -> None:
    rig = Rig(driver)
    rig.show(State.IDLE, State.THINKING)
    with rig.running():
        assert driver.wait_for(lambda frames: len(frames) >= 3)
        written, composed, waits = rig.counts_over(1.0)
        assert 20 <= written <= 32 and waits <= written + 2  # (a busy machine may skip some)
        assert composed <= 2  # the run shows the frames it was given
        assert rig.animator.dropped == 0 and rig.animator.written == len(driver.frames)


def test_a_still_pattern_is_written_once_and_the_thread_sleeps(driver: RecordingDriver) -> None:
    rig = Rig(driver)
    with rig.running():
        assert driver.wait_for(lambda frames: len(frames) == 1)
        assert rig.counts_over(0.5) == (0, 0, 0)  # no night schedule: nothing to look at
    assert [f.name for f in driver.frames] == ["idle"]


@pytest.mark.parametrize("old", [State.ERROR, State.THINKING])
def test_a_change_mid_run_shows_within_a_frame(driver: RecordingDriver, old: State) -> None:
    rig = Rig(driver)
    rig.show(State.IDLE, old)
    with rig.running():
        assert driver.wait_for(lambda frames: any(f.name == old.value for f in frames))
        time.sleep(0.1)  # in the run: a blink's off half, or between two spin frames
        before = len(driver.frames)
        at = time.monotonic()
        rig.show(old, State.SPEAKING)
        assert driver.wait_for(lambda frames: frames[-1].name == "speaking")
        latency_ms = (time.monotonic() - at) * 1000.0
        first = next(i for i, f in enumerate(driver.frames) if f.name == "speaking")
        assert first - before <= 1  # at most the frame already on its way
        assert latency_ms < 5 * FRAME_MS  # loose in real time (the blink's next change: 0.4 s)


def test_stop_writes_the_last_frame_from_a_run(driver: RecordingDriver) -> None:
    rig = Rig(driver)
    rig.show(State.IDLE, State.HANDOVER)
    rig.animator.start()
    assert driver.wait_for(lambda frames: len(frames) >= 2)
    last = Frame("stopped", ((0, 0, 0),) * 12, 0.5)
    assert rig.animator.stop(last, 1.0)
    assert driver.frames[-1] is last


def test_a_write_that_hangs_in_a_run_is_slow_and_drops_frames(driver: RecordingDriver) -> None:
    rig = Rig(driver, write_timeout_ms=50)
    rig.show(State.IDLE, State.THINKING)
    with rig.running():
        assert driver.wait_for(lambda frames: len(frames) >= 5)
        time.sleep(0.2)  # in the run
        driver.hang.set()
        time.sleep(0.2)
        assert rig.animator.check_slow() and rig.animator.slow == 1  # counted while it hangs
        driver.hang.clear()
        driver.release.set()
        n = len(driver.frames)
        assert driver.wait_for(lambda frames: len(frames) >= n + 3)
        assert rig.animator.slow == 1 and rig.animator.dropped >= 3  # 150+ ms of 33 ms frames
        assert not rig.animator.check_slow()
        spin = [f.pixels for f in driver.frames[-3:]]
        assert len(set(spin)) == 3  # going round again, on the grid


def test_a_write_that_raises_in_a_run_ends_the_thread(driver: RecordingDriver) -> None:
    failed = threading.Event()
    rig = Rig(driver)
    rig.animator.on_failure = failed.set
    rig.show(State.IDLE, State.THINKING)
    rig.animator.start()
    assert driver.wait_for(lambda frames: len(frames) >= 3)
    driver.fail_next_show = True
    assert failed.wait(1.0)
    assert isinstance(rig.animator.failure, OSError)
    assert rig.animator.stop(Frame("stopped", ((0, 0, 0),) * 12, 0.5), 1.0)
    assert driver.frames[-1].name == "thinking"  # a failed device is not written to again
