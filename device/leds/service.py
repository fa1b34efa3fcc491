"""The LED service: reports in, frames out, never in the conversation's way.

`LedService` is a `Service` (device/services/ports.py). ``report()`` only updates the pure
`LedState` (device/leds/arbiter.py) and pokes the LED thread, so a state change shows with
the next frame, at once. ``run()`` opens the driver (retried every ``retry_s`` like the
microphone, one log line per outage) and starts the `Animator` thread
(device/leds/animator.py), which animates a moving pattern at ``fps`` on the frame grid
and writes a still one once, on change; the event loop is not woken per frame, and a slow
or hung device only drops frames (counted). ``close()`` shows the ``stopped_colour`` (dark
by default) and lets the device go, within a second.

Contract: call ``report``, ``set_muted`` and ``set_echo_held`` on the loop's thread (the
daemon's report fan-out does). ``run`` may be cancelled at any point (the daemon's
supervisor does so at exit, before ``close``): the device is kept for ``close`` to darken.

Example::

    leds = LedService(settings.leds, Apa102Driver(led_count=12))
    daemon = Daemon(settings, ..., services=[leds])
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from device.conversation.reports import Report
from device.leds.animator import Animator
from device.leds.arbiter import LedState
from device.leds.driver import Driver, DriverUnavailable, first_line
from device.leds.frames import FrameMaker
from device.leds.patterns import Frame, brightness_at, build_patterns
from device.leds.settings import LedSettings
from device.retry.attempts import RetryGaveUp, retry
from device.retry.policy import Classified, Failure, RetryPolicy
from device.services.ports import Ports

log = logging.getLogger(__name__)

STOP_S = 0.5
"""At close: how long the last frame may take to be written, and the device to close."""


@dataclass(frozen=True, slots=True)
class LedStats:
    showing: str | None  # the pattern shown last (None: nothing yet)
    device_ok: bool  # the driver is open and writing
    frames_written: int = 0
    frames_dropped: int = 0  # fell due while a write overran its frame
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
        self._lock = threading.Lock()  # the state: the loop writes it, the LED thread reads
        self.frames = FrameMaker(
            self.state,
            self._lock,
            self.patterns,
            settings,
            led_count=driver.led_count,
            local_minutes=local_minutes,
        )
        self._clock = clock_ms
        self._local_minutes = local_minutes
        self._on_written = on_written
        self._failed = asyncio.Event()
        self._retry_now = asyncio.Event()
        self._closed = False
        self._animator: Animator | None = None
        self._outage = False
        self._last_t_ms = 0.0
        self._done = [0, 0, 0]  # written, dropped, slow of the animators before this one
        self.driver_failures = 0

    # -- what the daemon tells it (on the loop's thread) ----------------------------------

    def report(self, t_ms: float, report: Report) -> None:
        self._last_t_ms = t_ms
        with self._lock:
            changed = self.state.report(t_ms, report)
        if changed:
            self._changed()

    def set_muted(self, muted: bool) -> None:
        with self._lock:
            self.state.set_muted(muted)
        self._changed()

    def set_echo_held(self, held: bool) -> None:
        with self._lock:
            self.state.set_echo_held(held)
        self._changed()

    def _changed(self) -> None:
        self.frames.changed()
        if self._animator is not None:
            self._animator.poke()

    def stats(self) -> LedStats:
        a = self._animator
        now = (0, 0, 0)
        if a is not None:
            a.check_slow()
            now = (a.written, a.dropped, a.slow)
        written, dropped, slow = (x + y for x, y in zip(self._done, now, strict=True))
        if self._outage and a is not None and a.written and a.failure is None:
            self._outage = False
            log.info("leds: %s is back", self.driver.label)
        return LedStats(
            showing=self.frames.showing,
            device_ok=a is not None and a.failure is None and not self._outage,
            frames_written=written,
            frames_dropped=dropped,
            writes_slow=slow,
            driver_failures=self.driver_failures,
        )

    # -- the worker ---------------------------------------------------------------------

    async def run(self, ports: Ports) -> None:
        await self._drop_animator()  # one a cancelled run left behind
        if self._clock is None:  # the reports' clock, readable from the LED thread
            offset_ms = ports.now_ms() - time.monotonic() * 1000.0
            self._clock = lambda: time.monotonic() * 1000.0 + offset_ms
        loop = asyncio.get_running_loop()
        while not self._closed:
            if not await self._open():
                return
            self._failed.clear()
            animator = Animator(
                self.driver,
                self.frames.compose,
                ahead=self.frames.ahead,
                clock_ms=self._clock,
                slow_ms=self.settings.write_timeout_ms,
                frame_ms=self.frames.frame_ms,
                on_failure=self._wake_from_thread(loop),
                on_written=self._on_written,
            )
            self._animator = animator
            animator.start()
            await self._failed.wait()
            if animator.failure is not None and not self._closed:
                self._fail(animator.failure)
                await self._drop_animator()
        # closed: close() shows the last frame and closes the device

    def _wake_from_thread(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to wake
                loop.call_soon_threadsafe(self._failed.set)

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
            else f"leds: {self.driver.label}: {first_line(exc)}"
        )
        log.error(
            "%s; the LEDs are retried every %g s (the daemon goes on)", text, self.settings.retry_s
        )

    async def _drop_animator(self, last: Frame | None = None) -> None:
        """Stop the LED thread (after writing ``last``, if given) and close the device."""
        animator, self._animator = self._animator, None
        if animator is None:
            return
        ended = await asyncio.to_thread(animator.stop, last, STOP_S)
        for i, value in enumerate((animator.written, animator.dropped, animator.slow)):
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
        self._failed.set()
        self._retry_now.set()
        s = self.settings
        last = Frame(
            "stopped",
            (s.stopped_rgb,) * self.driver.led_count,
            brightness_at(s, self._local_minutes()),
            self._clock() if self._clock is not None else self._last_t_ms,
        )
        await self._drop_animator(last)
