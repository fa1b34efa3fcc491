"""The USB ring driver through a fake pyusb device: its control transfers, byte for byte."""

from __future__ import annotations

import errno

import pytest

from device.leds.driver import DriverUnavailable
from device.leds.patterns import Frame, build_patterns
from device.leds.settings import LedColours
from device.leds.usb_ring import UsbRingDriver
from tests.leds.fakes import FakeUsbDevice

PATTERNS = build_patterns(LedColours(), wake_flash_ms=400)


def request(command: int, data: bytes) -> tuple[int, int, int, int, bytes]:
    return (0x40, 0, command, 0x1C, data)


def test_frames_become_vendor_control_transfers() -> None:
    dev = FakeUsbDevice()
    ring = UsbRingDriver(usb=dev)
    ring.open()
    assert dev.transfers == [request(0x20, bytes([31]))]  # a first request checks access
    listening = Frame("listening", PATTERNS["listening"].pixels(0.0, 12), 1.0)
    ring.show(listening)  # one colour: the mono command
    thinking = Frame("thinking", PATTERNS["thinking"].pixels(0.0, 12), 0.5)
    ring.show(thinking)  # the brightness changed, then a custom frame
    ring.show(thinking)
    ring.close()
    custom = b"".join(bytes((*p, 0)) for p in thinking.pixels)
    assert dev.transfers[1:] == [
        request(1, bytes([0, 80, 255, 0])),
        request(0x20, bytes([16])),
        request(6, custom),
        request(6, custom),
    ]
    assert len(custom) == 48 and custom[:4] == bytes([0, 200, 255, 0])


def test_dark_is_mono_black() -> None:
    dev = FakeUsbDevice()
    ring = UsbRingDriver(usb=dev)
    ring.open()
    ring.show(Frame("idle", ((0, 0, 0),) * 12, 1.0))
    assert dev.transfers[-1] == request(1, bytes(4))


class UsbError(Exception):
    def __init__(self, text: str, code: int) -> None:
        super().__init__(text)
        self.errno = code


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (UsbError("[Errno 13] Access denied (insufficient permissions)", errno.EACCES),
         "permission denied: install systemd/60-voice-kiosk.rules as a udev rule"),
        (UsbError("[Errno 19] No such device (it may have been disconnected)", errno.ENODEV),
         "unplugged"),
        (UsbError("[Errno 110] Operation timed out", errno.ETIMEDOUT), "Operation timed out"),
    ],
)  # fmt: skip
def test_usb_problems_are_one_line_naming_the_ring(error: Exception, words: str) -> None:
    ring = UsbRingDriver(usb=FakeUsbDevice(fail=error))
    with pytest.raises(DriverUnavailable) as info:
        ring.open()
    message = str(info.value)
    assert message.startswith("leds: ReSpeaker USB Mic Array (2886:0018)")
    assert words in message and "\n" not in message


def test_a_write_after_unplugging_raises_driver_unavailable() -> None:
    dev = FakeUsbDevice()
    ring = UsbRingDriver(usb=dev)
    ring.open()
    dev.fail = UsbError("No such device", errno.ENODEV)
    with pytest.raises(DriverUnavailable, match="unplugged"):
        ring.show(Frame("idle", ((0, 0, 0),) * 12, 1.0))
