"""Fake LED devices for the driver and service tests (not a test module)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from device.leds.patterns import Frame


class FakeSpi:
    """spidev.SpiDev's surface: open(bus, device), mode, max_speed_hz, writebytes2, close."""

    def __init__(self, fail_open: BaseException | None = None) -> None:
        self.fail_open = fail_open
        self.opened: list[tuple[int, int]] = []
        self.mode: int | None = None
        self.max_speed_hz: int | None = None
        self.writes: list[bytes] = []
        self.closed = 0

    def open(self, bus: int, device: int) -> None:
        if self.fail_open is not None:
            raise self.fail_open
        self.opened.append((bus, device))

    def writebytes2(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed += 1


class FakeUsbDevice:
    """A pyusb device's ctrl_transfer, recording (request type, request, value, index, data)."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.transfers: list[tuple[int, int, int, int, bytes]] = []

    def ctrl_transfer(
        self, request_type: int, request: int, value: int, index: int, data: Any, timeout: Any
    ) -> int:
        if self.fail is not None:
            raise self.fail
        self.transfers.append((request_type, request, value, index, bytes(data)))
        return len(data)


class RecordingDriver:
    """A driver that records frames and can be told to fail or hang (on its writer thread)."""

    def __init__(self, led_count: int = 12) -> None:
        self.label = "recording driver"
        self.led_count = led_count
        self.frames: list[Frame] = []
        self.opens = 0
        self.closes = 0
        self.fail_opens = 0  # the next this many opens raise
        self.fail_next_show = False
        self.hang = threading.Event()  # set: show() blocks until released
        self.release = threading.Event()
        self.shown = threading.Condition()

    def open(self) -> None:
        if self.fail_opens:
            self.fail_opens -= 1
            raise OSError("no such device")
        self.opens += 1

    def show(self, frame: Frame) -> None:
        if self.fail_next_show:
            self.fail_next_show = False
            raise OSError("unplugged")
        if self.hang.is_set():
            self.release.wait(10)
        with self.shown:
            self.frames.append(frame)
            self.shown.notify_all()

    def writer(self, frame: Frame) -> Callable[[], object]:
        return functools.partial(self.show, frame)

    def close(self) -> None:
        self.closes += 1

    def wait_for(self, predicate: Callable[[list[Frame]], bool], timeout_s: float = 5.0) -> bool:
        """Block (a thread, not the loop) until ``predicate(frames)`` holds."""
        with self.shown:
            return self.shown.wait_for(lambda: predicate(self.frames), timeout_s)

    def names(self) -> list[str]:
        """Pattern names in the order shown, repeats folded."""
        out: list[str] = []
        for f in list(self.frames):
            if not out or out[-1] != f.name:
                out.append(f.name)
        return out


class FakePorts:
    """The service's ports: the monotonic clock from construction. The LED service uses
    nothing else; the other ports raise, so a test would show it if that changed."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def now_ms(self) -> float:
        return (time.monotonic() - self._t0) * 1000.0

    def stats(self) -> Any:
        raise NotImplementedError

    def health(self) -> Any:
        raise NotImplementedError

    def trigger(self, trigger: Any) -> None:
        raise NotImplementedError
