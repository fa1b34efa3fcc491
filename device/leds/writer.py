"""One thread that writes frames to a driver, so a slow or hung device never holds the loop.

``put(frame)`` never blocks: it leaves the frame in a one-frame mailbox and returns. The
thread writes the newest frame; one still waiting when a newer comes is dropped
(``dropped``). A write that takes longer than ``slow_ms`` is counted (``slow``) when it
ends, or while it hangs (`check_slow`). A write that raises stops the thread: ``failure``
holds the exception and ``on_failure`` is called (from the writer thread) so the owner can
reopen the device with a new writer.

Example::

    writer = FrameWriter(driver, slow_ms=200, on_failure=lambda: loop.call_soon_threadsafe(...))
    writer.start()
    writer.put(frame)
    writer.stop(timeout_s=0.5)      # drains the waiting frame first
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from device.leds.driver import Driver
from device.leds.patterns import Frame


class FrameWriter:
    """See the module docstring."""

    def __init__(
        self,
        driver: Driver,
        *,
        slow_ms: float,
        on_failure: Callable[[], None] | None = None,
        on_written: Callable[[Frame, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.driver = driver
        self.slow_ms = slow_ms
        self.on_failure = on_failure
        self.on_written = on_written  # (frame, monotonic s when written): the bench's probe
        self.clock = clock
        self.written = 0
        self.dropped = 0
        self.slow = 0
        self.failure: BaseException | None = None
        self._cond = threading.Condition()
        self._pending: Frame | None = None
        self._stopping = False
        self._busy_since: float | None = None
        self._slow_counted = False
        self._thread = threading.Thread(target=self._run, name="leds-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._stopping or self.failure is not None:
                return
            if self._pending is not None:
                self.dropped += 1
            self._pending = frame
            self._cond.notify()

    def check_slow(self) -> bool:
        """True while a write has run longer than ``slow_ms`` (counted once per write)."""
        with self._cond:
            since = self._busy_since
            if since is None or (self.clock() - since) * 1000.0 <= self.slow_ms:
                return False
            if not self._slow_counted:
                self._slow_counted = True
                self.slow += 1
            return True

    def stop(self, timeout_s: float) -> bool:
        """Write the frame still waiting, end the thread; False if it did not end in time
        (a hung write: the thread is left behind, a daemon thread)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopping:
                    self._cond.wait()
                frame, self._pending = self._pending, None
                if frame is None:
                    return  # stopping, nothing left
                self._busy_since = self.clock()
                self._slow_counted = False
            try:
                self.driver.show(frame)
            except Exception as exc:
                with self._cond:
                    self.failure = exc
                    self._busy_since = None
                    self._pending = None
                if self.on_failure is not None:
                    self.on_failure()
                return
            done = self.clock()
            with self._cond:
                took_ms = (done - (self._busy_since or done)) * 1000.0
                if took_ms > self.slow_ms and not self._slow_counted:
                    self.slow += 1
                self._busy_since = None
                self.written += 1
            if self.on_written is not None:
                self.on_written(frame, done)
