"""The LED thread: frames at their due times, written to the driver, off the event loop.

The animation runs here, not on the loop: a frame a 30th of a second would cost the loop a
wake each time (and the device more CPU than the whole LED budget on a small Pi), and a
slow or hung device write must never hold the conversation. Each turn the thread asks
``compose(now_ms)`` for the frame to show and when the next one is due (None: the pattern
is still, so only a `poke` or `STILL_S` brings the next look), writes the frame if it
differs from the last one written, and sleeps until then or until poked.

Counted: ``written``; ``dropped`` (frames that fell due while a write overran its frame);
``slow`` (writes longer than ``slow_ms``, counted when they end, or by `check_slow` while
one hangs). A write that raises ends the thread: ``failure`` holds the exception and
``on_failure`` is called (from this thread) so the owner can reopen the device.

Example::

    animator = Animator(driver, compose, slow_ms=200, on_failure=wake_the_loop)
    animator.start()
    animator.poke()                       # the state changed: look again now
    animator.stop(last=dark_frame, timeout_s=0.5)
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from device.leds.driver import Driver
from device.leds.patterns import Frame

STILL_S = 1.0
"""A still pattern is looked at again this often (the night schedule)."""

Compose = Callable[[float], tuple[Frame, float | None]]
"""``now_ms -> (frame to show, when the next frame is due in ms, or None when still)``."""


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
        on_failure: Callable[[], None] | None = None,
        on_written: Callable[[Frame, float], None] | None = None,
    ) -> None:
        self.driver = driver
        self.compose = compose
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

    def _write(self, frame: Frame) -> bool:
        self._slow_counted = False
        self._busy_since = start = time.monotonic()  # check_slow reads it from the loop
        try:
            self.driver.show(frame)
        except Exception as exc:
            self.failure = exc
            if self.on_failure is not None:
                self.on_failure()
            return False
        done = time.monotonic()
        took_ms = (done - start) * 1000.0
        self._busy_since = None
        if took_ms > min(self.frame_ms, self.slow_ms):  # rare: a slow write
            with self._guard:
                if took_ms > self.slow_ms and not self._slow_counted:
                    self.slow += 1
                    self._slow_counted = True
            self.dropped += int(took_ms // self.frame_ms)  # frames that fell due meanwhile
        self.written += 1
        if self.on_written is not None:
            self.on_written(frame, done)
        return True

    def _run(self) -> None:
        clock, compose, wait = self.clock_ms, self.compose, self._poked.acquire
        shown: Frame | None = None
        while not self._stopping:
            frame, due_ms = compose(clock())
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
            wait_s = STILL_S if due_ms is None else (due_ms - clock()) / 1000.0
            if wait_s > 0:
                wait(timeout=min(wait_s, STILL_S))
            else:
                wait(blocking=False)  # a poke that came meanwhile is folded in
        if self._last is not None and self.failure is None:
            self._write(self._last)
