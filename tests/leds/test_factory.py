"""build_led_service: the configured driver, or nothing for driver none."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from device.leds.factory import build_led_service, make_driver
from device.leds.gpio import PwmLedDriver, RgbLedDriver, SingleLedDriver
from device.leds.patterns import Frame
from device.leds.service import LedService
from device.leds.settings import LedSettings
from device.leds.spi import Apa102Driver
from device.leds.terminal import TerminalDriver
from device.leds.usb_ring import UsbRingDriver
from tests.leds.fakes import FakeSpi, FakeUsbDevice


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()
    Device.pin_factory = None


def test_driver_none_is_no_service() -> None:
    assert build_led_service(LedSettings()) is None


@pytest.mark.parametrize(
    ("driver", "kind", "count"),
    [
        ("terminal", TerminalDriver, 3),
        ("single", SingleLedDriver, 1),
        ("pwm", PwmLedDriver, 1),
        ("rgb", RgbLedDriver, 1),
        ("apa102", Apa102Driver, 3),
        ("usb_ring", UsbRingDriver, 12),
    ],
)
def test_each_driver(factory: MockFactory, driver: str, kind: type, count: int) -> None:
    settings = LedSettings(driver=driver, led_count=3)  # type: ignore[arg-type]
    made = make_driver(
        settings, pin_factory=factory, spi=FakeSpi(), usb=FakeUsbDevice(), out=io.StringIO()
    )
    assert made is not None and isinstance(made, kind) and made.led_count == count
    made.open()
    made.close()
    service = build_led_service(settings, pin_factory=factory, spi=FakeSpi(), out=io.StringIO())
    assert isinstance(service, LedService) and service.name == "leds"


def test_the_terminal_line_is_written_on_pattern_changes_only() -> None:
    out = io.StringIO()
    driver = make_driver(LedSettings(driver="terminal", led_count=3), out=out)
    assert isinstance(driver, TerminalDriver) and not driver.colour
    driver.open()
    driver.show(Frame("thinking", ((0, 200, 255), (0, 0, 0), (0, 0, 0)), 0.5, 1000.0))
    driver.show(Frame("thinking", ((0, 0, 0), (0, 200, 255), (0, 0, 0)), 0.5, 1033.0))
    driver.show(Frame("speaking", ((0, 80, 255),) * 3, 0.5, 2000.0))
    assert out.getvalue() == (
        "   1.00s  leds   thinking     ●○○\n   2.00s  leds   speaking     ●●●\n"
    )
