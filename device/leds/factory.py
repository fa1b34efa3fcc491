"""The one place LED drivers and the LED service are built from settings.

Example::

    leds = build_led_service(settings.leds, out=sys.stdout)   # None when driver is none
    services = [leds] if leds is not None else []
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from device.leds.driver import Driver
from device.leds.gpio import PwmLedDriver, RgbLedDriver, SingleLedDriver
from device.leds.service import LedService
from device.leds.settings import LedSettings
from device.leds.spi import Apa102Driver
from device.leds.terminal import TerminalDriver
from device.leds.usb_ring import UsbRingDriver


def make_driver(
    settings: LedSettings,
    *,
    pin_factory: Any = None,
    spi: Any = None,
    usb: Any = None,
    out: TextIO | None = None,
) -> Driver | None:
    """The configured driver (not opened yet), or None for ``driver: none``.

    ``pin_factory``: gpiozero's (tests: MockFactory); ``spi``: a spidev-like device;
    ``usb``: a pyusb-like device; ``out``: the terminal driver's stream (stdout).
    """
    s = settings
    match s.driver:
        case "none":
            return None
        case "terminal":
            return TerminalDriver(out if out is not None else sys.stdout, led_count=s.led_count)
        case "single":
            return SingleLedDriver(pin=s.pin, active_high=s.active_high, pin_factory=pin_factory)
        case "pwm":
            return PwmLedDriver(pin=s.pin, active_high=s.active_high, pin_factory=pin_factory)
        case "rgb":
            return RgbLedDriver(
                red_pin=s.red_pin,
                green_pin=s.green_pin,
                blue_pin=s.blue_pin,
                active_high=s.active_high,
                pin_factory=pin_factory,
            )
        case "apa102":
            return Apa102Driver(
                bus=s.spi_bus,
                device=s.spi_device,
                led_count=s.led_count,
                mode=s.spi_mode,
                speed_hz=s.spi_speed_hz,
                power_pin=s.power_pin,
                spi=spi,
                pin_factory=pin_factory,
            )
        case "usb_ring":
            return UsbRingDriver(usb=usb, timeout_ms=max(s.write_timeout_ms, 100))
    raise ValueError(f"unknown LED driver {s.driver!r}")  # pragma: no cover


def build_led_service(
    settings: LedSettings,
    *,
    pin_factory: Any = None,
    spi: Any = None,
    usb: Any = None,
    out: TextIO | None = None,
) -> LedService | None:
    """The LED service for the daemon's ``services=[...]``, or None for ``driver: none``.
    Nothing is opened here: the service opens (and retries) the device in its ``run``."""
    driver = make_driver(settings, pin_factory=pin_factory, spi=spi, usb=usb, out=out)
    return None if driver is None else LedService(settings, driver)
