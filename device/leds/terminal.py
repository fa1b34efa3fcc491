"""The terminal "driver": a line on a text stream each time the pattern changes.

For the demo (the LEDs' changes appear on the timeline between its other lines) and for
working on patterns without hardware. The line shows the ring as coloured marks (ANSI
colours only when the stream is a TTY); see `device.leds.encode.terminal_line`.

Example::

    driver = TerminalDriver(sys.stdout, led_count=12)
    driver.show(Frame("thinking", pixels, 0.5, t_ms=1234.0))
    #    1.23s  leds   thinking     ●●●○○○○○○○○○
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TextIO

from device.leds.encode import terminal_line
from device.leds.patterns import Frame


class TerminalDriver:
    """See the module docstring."""

    def __init__(self, out: TextIO, *, led_count: int = 12) -> None:
        self.out = out
        self.led_count = led_count
        self.label = "terminal"
        self._last: str | None = None
        isatty = getattr(out, "isatty", None)
        self.colour = bool(isatty()) if callable(isatty) else False

    def open(self) -> None:
        self._last = None

    def show(self, frame: Frame) -> None:
        if frame.name == self._last:
            return
        self._last = frame.name
        self.out.write(terminal_line(frame, colour=self.colour) + "\n")
        self.out.flush()

    def writer(self, frame: Frame) -> Callable[[], object]:
        return functools.partial(self.show, frame)

    def close(self) -> None:
        pass
