"""The 12-LED ring of the ReSpeaker USB Mic Array v2.0 (VID 0x2886, PID 0x0018), with pyusb.

Frames become vendor control transfers (`device.leds.encode.usb_ring_frame`: command 6 for
a custom frame, 1 for one colour; 0x20 for the brightness, sent when it changes). pyusb is
imported when the ring is opened. Reading the ring needs the udev rule of docs/leds.md.

The USB device is passed in (tests: a fake with pyusb's ``ctrl_transfer``); None finds
the ring by its IDs at each open, so an unplugged ring is found again when it comes back.

Example::

    ring = UsbRingDriver()
    ring.open(); ring.show(frame); ring.close()
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import Any

from device.leds.driver import DriverUnavailable, first_line
from device.leds.encode import (
    USB_INDEX,
    USB_REQUEST,
    USB_REQUEST_TYPE,
    USB_RING_LEDS,
    level5,
    usb_ring_brightness,
    usb_ring_frame,
)
from device.leds.patterns import Frame

VENDOR_ID = 0x2886
PRODUCT_ID = 0x0018
_NAME = "ReSpeaker USB Mic Array (2886:0018)"
_UDEV = (
    "install systemd/60-voice-kiosk.rules as a udev rule and put the service user in group "
    "plugdev (docs/leds.md), then replug the array"
)


def _problem(exc: BaseException) -> DriverUnavailable:
    code = getattr(exc, "errno", None) or getattr(exc, "backend_error_code", None)
    text = first_line(exc)
    if code in (errno.EACCES, errno.EPERM, -3) or "access denied" in text.lower():
        return DriverUnavailable(f"leds: {_NAME}: permission denied: {_UDEV}")
    if code in (errno.ENODEV, -4) or "no such device" in text.lower():
        return DriverUnavailable(f"leds: {_NAME}: unplugged")
    return DriverUnavailable(f"leds: {_NAME}: {text}")


class UsbRingDriver:
    """See the module docstring."""

    led_count = USB_RING_LEDS

    def __init__(self, *, usb: Any = None, timeout_ms: int = 1000) -> None:
        self.label = _NAME
        self.timeout_ms = timeout_ms
        self._given = usb
        self._dev: Any = None
        self._level: int | None = None

    def _find(self) -> Any:
        try:
            import usb.core
        except ImportError as exc:
            raise DriverUnavailable(
                f"leds: {_NAME}: pyusb is not installed (pip install pyusb in the venv)"
            ) from exc
        try:
            dev = usb.core.find(idVendor=VENDOR_ID, idProduct=PRODUCT_ID)
        except usb.core.NoBackendError as exc:
            raise DriverUnavailable(
                f"leds: {_NAME}: no libusb found (apt install libusb-1.0-0)"
            ) from exc
        if dev is None:
            raise DriverUnavailable(f"leds: {_NAME} not found: plug it in (lsusb lists 2886:0018)")
        return dev

    def _send(self, command: int, data: bytes) -> None:
        try:
            self._dev.ctrl_transfer(
                USB_REQUEST_TYPE, USB_REQUEST, command, USB_INDEX, data, timeout=self.timeout_ms
            )
        except DriverUnavailable:
            raise
        except Exception as exc:  # usb.core.USBError and its timeouts
            raise _problem(exc) from exc

    def open(self) -> None:
        self.close()
        self._dev = self._given if self._given is not None else self._find()
        self._level = None
        try:  # a first request now: a missing udev rule shows at open, not at the first frame
            self._send(*usb_ring_brightness(1.0))
        except DriverUnavailable:
            self.close()
            raise
        self._level = level5(1.0)

    def show(self, frame: Frame) -> None:
        if self._level != level5(frame.brightness):
            self._send(*usb_ring_brightness(frame.brightness))
            self._level = level5(frame.brightness)
        self._send(*usb_ring_frame(frame.pixels))

    def writer(self, frame: Frame) -> Callable[[], object]:
        return functools.partial(self.show, frame)

    def close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is None or self._given is not None:
            return
        try:
            import usb.util

            usb.util.dispose_resources(dev)
        except Exception:  # unplugged, or pyusb gone: nothing is held
            pass
