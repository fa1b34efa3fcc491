"""The LED thread: frames at their due times, written to the driver, off the event loop.

The animation runs here, not on the loop: a frame a 30th of a second would cost the loop a
wake each time (and the device more CPU than the whole LED budget on a small Pi), and a
slow or hung device write must never hold the conversation. Each turn the thread asks
``compose(now_ms)`` for the frame to show and when the next *different* one is due (None:
nothing will change until poked), writes the frame if it differs from the last one
written, and sleeps until then or until poked. So a blink wakes the thread a few times a
second, a still pattern not at all.

A repeating pattern runs on its own in between (``ahead(now_ms)`` gives its `Run`): the
thread wakes at each change on the frame grid and writes the frame it was given, with one
clock read and no question asked, until poked, late, or at the run's end. Each wake costs
more than the frame on a small or shared CPU (cold caches), so that loop does the least.

Counted: ``written``; ``dropped`` (frames that fell due while a write overran its frame);
``slow`` (writes longer than ``slow_ms``, counted when they end, or by `check_slow` while
one hangs). In a run, a write's time counts from its frame's due time (the one clock read
is after the write), so a wake that came that late counts too. A write that raises ends
the thread: ``failure`` holds the exception and ``on_failure`` is called (from this
thread) so the owner can reopen the device.

Contract: ``clock_ms`` runs at the pace of `time.monotonic` (a run is timed by the latter,
mapped onto the former when it begins); every change ``compose`` must show is followed by
`poke` (or is due by its time).

Example::

    animator = Animator(driver, compose, ahead=ahead, slow_ms=200, on_failure=wake_the_loop)
    animator.start()
    animator.poke()                       # the state changed: look again now
    animator.stop(last=dark_frame, timeout_s=0.5)
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from device.leds.driver import Driver
from device.leds.patterns import Frame

Compose = Callable[[float], tuple[Frame, float | None]]
"""``now_ms -> (frame to show, when the next different frame is due in ms, or None when
nothing changes until a poke)``."""


@dataclass(frozen=True, slots=True)
class Run:
    """A repeating pattern's frames on their grid, for the thread to show on its own: step
    ``k`` shows ``frames[k % len(frames)]`` from ``start_ms + k * frame_ms``, and the next
    different frame comes ``steps[k % len(frames)]`` steps later (every step > 0)."""

    frames: Sequence[Frame]
    steps: Sequence[int]
    start_ms: float
    frame_ms: float
    k: int  # the step showing now
    look_ms: float  # ask `compose` again at the first change due from then
    lapse_ms: float  # ask it again then at the latest (a timed input lapses; math.inf: none)


Ahead = Callable[[float], Run | None]
"""``now_ms -> the Run of the frame composed at now_ms``, or None (not a repeating one)."""


class Animator:
    """See the module docstring."""

    def __init__(
        self,
        driver: Driver,
        compose: Compose,
        *,
        clock_ms: Callable[[], float],
        slow_ms: float,
        frame_ms: float,
        ahead: Ahead | None = None,
        on_failure: Callable[[], None] | None = None,
        on_written: Callable[[Frame, float], None] | None = None,
    ) -> None:
        self.driver = driver
        self.compose = compose
        self.ahead = ahead
        self.clock_ms = clock_ms
        self.slow_ms = slow_ms
        self.frame_ms = frame_ms
        self.on_failure = on_failure
        self.on_written = on_written  # (frame, time.monotonic() once written): the bench's probe
        self.written = 0
        self.dropped = 0
        self.slow = 0
        self.failure: BaseException | None = None
        self._poked = threading.Lock()  # held = not poked; released = look again now
        self._poked.acquire()
        self._stopping = False
        self._last: Frame | None = None  # the frame to write once stopping
        self._busy_since: float | None = None
        self._slow_counted = False
        self._guard = threading.Lock()
        # a run's frames (held, so their id is not reused) and the driver's writer of each
        self._writers: dict[int, tuple[Sequence[Frame], list[Callable[[], object]]]] = {}
        self._thread = threading.Thread(target=self._run, name="leds", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        """Look again now (any thread); cheap, and pokes before the next look fold."""
        with contextlib.suppress(RuntimeError):  # already poked
            self._poked.release()

    def check_slow(self) -> bool:
        """True while a write has run longer than ``slow_ms`` (counted once per write)."""
        with self._guard:
            since = self._busy_since
            if since is None or time.monotonic() - since <= self.slow_ms / 1000.0:
                return False
            if not self._slow_counted:
                self._slow_counted = True
                self.slow += 1
            return True

    def stop(self, last: Frame | None, timeout_s: float) -> bool:
        """Write ``last`` (if given), end the thread; False when it did not end in time (a
        hung write: the thread is left behind, a daemon thread)."""
        self._last = last
        self._stopping = True
        self.poke()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _failed(self, exc: Exception) -> None:
        self.failure = exc
        if self.on_failure is not None:
            self.on_failure()

    def _overran(self, took_ms: float) -> None:
        """A write (or the wake before it) ran past its frame: count it (rare)."""
        with self._guard:
            if took_ms > self.slow_ms and not self._slow_counted:
                self.slow += 1
            self._slow_counted = False  # for the next write
        self.dropped += int(took_ms // self.frame_ms)  # frames that fell due meanwhile

    def _write(self, frame: Frame) -> bool:
        self._slow_counted = False
        self._busy_since = start = time.monotonic()  # check_slow reads it from the loop
        try:
            self.driver.show(frame)
        except Exception as exc:
            self._failed(exc)
            return False
        done = time.monotonic()
        self._busy_since = None
        took_ms = (done - start) * 1000.0
        if took_ms > min(self.frame_ms, self.slow_ms):  # rare: a slow write
            self._overran(took_ms)
        self.written += 1
        if self.on_written is not None:
            self.on_written(frame, done)
        return True

    def _run(self) -> None:
        clock, compose, ahead, wait = self.clock_ms, self.compose, self.ahead, self._poked.acquire
        shown: Frame | None = None
        while not self._stopping:
            now_ms = clock()
            frame, due_ms = compose(now_ms)
            if shown is None or (
                frame is not shown
                and (
                    frame.pixels != shown.pixels
                    or frame.name != shown.name
                    or frame.brightness != shown.brightness
                )
            ):
                shown = frame
                if not self._write(frame):
                    return
            if self._stopping:
                break
            if due_ms is None:
                wait()  # nothing changes until poked
                continue
            run = None if ahead is None else ahead(now_ms)
            if run is not None:
                shown = self._repeat(run, shown)
                if shown is None:
                    return
                continue
            wait_s = (due_ms - clock()) / 1000.0
            if wait_s > 0:
                wait(True, wait_s)
            else:
                wait(False)  # a poke that came meanwhile is folded in
        if self._last is not None and self.failure is None:
            self._write(self._last)

    def _writers_of(self, frames: Sequence[Frame]) -> list[Callable[[], object]]:
        """The driver's writer of each of a run's frames, made once per run's frames (a
        writer writes one frame with one call: the APA102 ring's bytes are encoded once)."""
        known = self._writers.get(id(frames))
        if known is not None and known[0] is frames:
            return known[1]
        if len(self._writers) >= 32:
            self._writers.clear()
        writes = [self.driver.writer(frame) for frame in frames]
        self._writers[id(frames)] = (frames, writes)
        return writes

    def _repeat(self, run: Run, shown: Frame) -> Frame | None:
        """Show ``run``'s frames at their due times until poked (or stopping), late, or at
        the run's end; the frame shown last, None when a write failed. The hot path: kept
        to locals, one clock read per frame (after the write)."""
        mono, acquire = time.monotonic, self._poked.acquire
        on_written = self.on_written
        shift_s = mono() - self.clock_ms() / 1000.0  # the run's clock to time.monotonic
        frames, steps, n = run.frames, run.steps, len(run.frames)
        writes = self._writers_of(frames)
        frame_s, origin = run.frame_ms / 1000.0, run.start_ms / 1000.0 + shift_s
        lapse = run.lapse_ms / 1000.0 + shift_s  # math.inf stays so
        back = min(run.look_ms / 1000.0 + shift_s, lapse)
        overran_s = min(self.frame_ms, self.slow_ms) / 1000.0
        k = run.k
        now = mono()
        while True:
            k += steps[k % n]
            due = origin + k * frame_s
            if due >= back:  # hand back at that change (a look), or at the lapse
                end = due if due < lapse else lapse
                if end > now:
                    acquire(True, end - now)
                return shown
            if due <= now or acquire(True, due - now):
                return shown  # late, or poked: compose looks again
            shown = frames[k % n]
            self._busy_since = due
            try:
                writes[k % n]()
            except Exception as exc:
                self._failed(exc)
                return None
            now = mono()
            self._busy_since = None
            self.written += 1
            if now - due > overran_s:  # rare
                self._overran((now - due) * 1000.0)
            if on_written is not None:
                on_written(shown, now)
