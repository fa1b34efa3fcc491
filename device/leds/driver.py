"""What every LED driver is (`Driver`), and how one says it cannot be used.

A driver is a thin adapter: ``open()`` takes the device (or raises `DriverUnavailable`
with one line naming the device and what to do), ``show(frame)`` writes one `Frame`
(blocking: the LED service calls it on its own thread, never on the loop),
``writer(frame)`` gives a call that writes that frame, made once for a frame a repeating
pattern shows again and again (the APA102 ring's: its bytes encoded once, bound to the
device's write; others: ``show`` bound to the frame; valid until the next ``open``),
``close()`` lets the device go and may be called twice. ``led_count`` is how many pixels a frame for
it carries; ``label`` names the device in log lines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from device.leds.patterns import Frame


class DriverUnavailable(Exception):
    """The LED device cannot be used; the message is one line naming it and the fix."""


class Driver(Protocol):
    label: str
    led_count: int

    def open(self) -> None: ...

    def show(self, frame: Frame) -> None: ...

    def writer(self, frame: Frame) -> Callable[[], object]: ...

    def close(self) -> None: ...


def first_line(exc: BaseException) -> str:
    """An exception's first line, or its type's name when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
