"""The LED service: reports in, frames out, on its own task, never in the conversation's way.

`LedService` is a `Service` (device/services/ports.py). ``report()`` only updates the pure
`LedState` (device/leds/arbiter.py) and wakes the animation task, so a state change shows
with the next frame, at once. ``run()`` opens the driver (retried every ``retry_s`` like the
microphone, one log line per outage), then animates: a moving pattern at ``fps``, a still
one written once, on change. Frames go to a `FrameWriter` thread: a slow or hung device
only drops frames (counted), the loop never waits for it. ``close()`` shows the
``stopped_colour`` (dark by default) and lets the device go, within a second.

Contract: call ``report``, ``set_muted`` and ``set_echo_held`` on the loop's thread (the
daemon's report fan-out does); ``run`` may be cancelled at any point (the daemon's
supervisor does so at exit, before ``close``): the device is kept for ``close`` to darken.

Example::

    leds = LedService(settings.leds, Apa102Driver(led_count=12))
    daemon = Daemon(settings, ..., services=[leds])
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from device.conversation.reports import Report
from device.leds.arbiter import LedState
from device.leds.driver import Driver, DriverUnavailable, first_line
from device.leds.patterns import Frame, brightness_at, build_patterns, solid_pattern
from device.leds.settings import LedSettings
from device.leds.writer import FrameWriter
from device.retry.attempts import RetryGaveUp, retry
from device.retry.policy import Classified, Failure, RetryPolicy
from device.services.ports import Ports

log = logging.getLogger(__name__)

STOP_S = 0.5
"""At close: how long the last frame may take to be written, and the device to close."""

STILL_WAKE_S = 1.0
"""A still pattern is looked at again this often (the night schedule, a hung write)."""


@dataclass(frozen=True, slots=True)
class LedStats:
    showing: str | None  # the pattern shown last (None: nothing yet)
    device_ok: bool  # the driver is open and writing
    frames_written: int = 0
    frames_dropped: int = 0  # replaced by a newer frame before the device took them
    writes_slow: int = 0  # writes longer than write_timeout_ms
    driver_failures: int = 0  # opens and writes that failed


class _Closed(Exception):
    pass


def _local_minutes() -> float:
    t = time.localtime()
    return t.tm_hour * 60 + t.tm_min + t.tm_sec / 60.0


class LedService:
    """See the module docstring."""

    name = "leds"

    def __init__(
        self,
        settings: LedSettings,
        driver: Driver,
        *,
        clock_ms: Callable[[], float] | None = None,
        local_minutes: Callable[[], float] = _local_minutes,
        on_written: Callable[[Frame, float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.driver = driver
        self.state = LedState(
            wake_flash_ms=settings.wake_flash_ms,
            handover_show_ms=settings.handover_show_s * 1000.0,
        )
        self.patterns = build_patterns(settings.colours, wake_flash_ms=settings.wake_flash_ms)
        self._clock_ms = clock_ms
        self._clock: Callable[[], float] | None = clock_ms
        self._local_minutes = local_minutes
        self._on_written = on_written
        self._wake = asyncio.Event()
        self._retry_now = asyncio.Event()
        self._closed = False
        self._writer: FrameWriter | None = None
        self._outage = False
        self._showing: str | None = None
        self._last_t_ms = 0.0
        self._done = [0, 0, 0]  # written, dropped, slow of the writers before this one
        self.driver_failures = 0

    # -- what the daemon tells it (on the loop's thread) ----------------------------------

    def report(self, t_ms: float, report: Report) -> None:
        self._last_t_ms = t_ms
        if self.state.report(t_ms, report):
            self._wake.set()

    def set_muted(self, muted: bool) -> None:
        self.state.set_muted(muted)
        self._wake.set()

    def set_echo_held(self, held: bool) -> None:
        self.state.set_echo_held(held)
        self._wake.set()

    def stats(self) -> LedStats:
        w = self._writer
        now = (w.written, w.dropped, w.slow) if w is not None else (0, 0, 0)
        written, dropped, slow = (a + b for a, b in zip(self._done, now, strict=True))
        return LedStats(
            showing=self._showing,
            device_ok=w is not None and w.failure is None and not self._outage,
            frames_written=written,
            frames_dropped=dropped,
            writes_slow=slow,
            driver_failures=self.driver_failures,
        )

    # -- the worker ---------------------------------------------------------------------

    async def run(self, ports: Ports) -> None:
        await self._drop_writer()  # one a cancelled run left behind
        clock = self._clock = self._clock_ms or ports.now_ms
        while not self._closed:
            if not await self._open():
                return
            writer = FrameWriter(
                self.driver,
                slow_ms=self.settings.write_timeout_ms,
                on_failure=self._wake_from_thread(asyncio.get_running_loop()),
                on_written=self._on_written,
            )
            self._writer = writer
            writer.start()
            await self._animate(clock, writer)
            if writer.failure is not None and not self._closed:
                self._fail(writer.failure)
                await self._drop_writer()
        # closed: close() shows the last frame and closes the device

    def _wake_from_thread(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to wake
                loop.call_soon_threadsafe(self._wake.set)

        return wake

    async def _open(self) -> bool:
        """Open the driver, every ``retry_s`` until it works; False once closed."""
        retry_s = self.settings.retry_s

        def classify(exc: BaseException) -> Classified:
            return Classified(Failure.FATAL if isinstance(exc, _Closed) else Failure.NETWORK)

        policy = RetryPolicy(
            base_s=retry_s, cap_s=retry_s, network_cap_s=retry_s, jitter=False, classify=classify
        )

        async def attempt() -> None:
            if self._closed:
                raise _Closed
            await asyncio.to_thread(self.driver.open)

        def failed(_n: int, exc: BaseException, _c: Classified, _delay: float | None) -> None:
            if not isinstance(exc, _Closed):
                self._fail(exc)

        try:
            await retry(attempt, policy, on_failure=failed, wake=self._retry_now)
        except RetryGaveUp:
            return False
        if self._closed:  # closed while it opened
            await asyncio.to_thread(self.driver.close)
            return False
        return True

    def _fail(self, exc: BaseException) -> None:
        self.driver_failures += 1
        if self._outage:
            log.debug("leds: %s: %s", self.driver.label, first_line(exc))
            return
        self._outage = True
        text = (
            str(exc)
            if isinstance(exc, DriverUnavailable)
            else (f"leds: {self.driver.label}: {first_line(exc)}")
        )
        log.error(
            "%s; the LEDs are retried every %g s (the daemon goes on)", text, self.settings.retry_s
        )

    async def _animate(self, clock: Callable[[], float], writer: FrameWriter) -> None:
        """Frames until the writer fails or the service closes."""
        loop = asyncio.get_running_loop()
        period_s = 1.0 / self.settings.fps
        n = self.driver.led_count
        last: tuple[object, ...] | None = None
        next_frame = loop.time()
        while not self._closed and writer.failure is None:
            self._wake.clear()
            now_ms = clock()
            showing = self.state.showing(now_ms)
            pattern = self.patterns[showing.name]
            brightness = brightness_at(self.settings, self._local_minutes())
            pixels = pattern.pixels(now_ms - showing.since_ms, n)
            key = (showing.name, pixels, brightness)
            if key != last:
                last = key
                self._showing = showing.name
                writer.put(Frame(showing.name, pixels, brightness, now_ms))
            writer.check_slow()
            if self._outage and writer.written:
                self._outage = False
                log.info("leds: %s is back", self.driver.label)
            if pattern.animated:
                now_s = loop.time()
                next_frame = max(next_frame + period_s, now_s)
                wait_s = next_frame - now_s
            else:
                wait_s = STILL_WAKE_S
                due_ms = self.state.next_change_ms(now_ms)
                if due_ms is not None:
                    wait_s = min(wait_s, (due_ms - now_ms) / 1000.0)
            if wait_s > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):
                        await self._wake.wait()

    async def _drop_writer(self, last: Frame | None = None) -> None:
        """Stop the writer (after ``last``, if given) and close the device."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if last is not None:
            writer.put(last)
        ended = await asyncio.to_thread(writer.stop, STOP_S)
        for i, value in enumerate((writer.written, writer.dropped, writer.slow)):
            self._done[i] += value
        if not ended:
            log.warning("leds: %s hangs: closing it without the last frame", self.driver.label)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(STOP_S):
                await asyncio.to_thread(self.driver.close)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._retry_now.set()
        s = self.settings
        stopped = solid_pattern("stopped", s.stopped_rgb)
        last = Frame(
            "stopped",
            stopped.pixels(0.0, self.driver.led_count),
            brightness_at(s, self._local_minutes()),
            self._clock() if self._clock is not None else self._last_t_ms,
        )
        await self._drop_writer(last)
