"""LEDs on GPIO pins through gpiozero: a single on/off LED, a PWM LED, an RGB LED.

Each shows the first pixel of a frame (they are one-LED "rings": ``led_count`` 1): the
single LED is on while that pixel is at least half lit, the PWM LED's duty cycle follows
its level times the brightness (breathing), the RGB LED takes its colour times the
brightness. The pin factory is passed in (tests: ``MockFactory(pin_class=MockPWMPin)``);
None lets gpiozero choose (lgpio on a Pi 5, ``GPIOZERO_PIN_FACTORY=mock`` on a laptop).

Example::

    led = PwmLedDriver(pin=12, pin_factory=None)
    led.open(); led.show(frame); led.close()
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from device.leds.driver import DriverUnavailable, first_line
from device.leds.patterns import Frame


def _gpio_problem(where: str, exc: BaseException) -> DriverUnavailable:
    text = first_line(exc)
    if "pin factory" in text.lower():
        text += " (on a Pi: install lgpio; elsewhere: GPIOZERO_PIN_FACTORY=mock)"
    elif isinstance(exc, PermissionError) or "permission" in text.lower():
        text += " (add the service user to the gpio group: sudo usermod -aG gpio USER)"
    return DriverUnavailable(f"leds: {where}: {text}")


def _make(kind: str, where: str, *args: Any, **kwargs: Any) -> Any:
    try:
        import gpiozero
    except ImportError as exc:
        raise DriverUnavailable(f"leds: gpiozero is not installed ({exc})") from exc
    try:
        with warnings.catch_warnings():  # gpiozero warns once per factory it falls back from
            warnings.simplefilter("ignore")
            return getattr(gpiozero, kind)(*args, **kwargs)
    except Exception as exc:  # gpiozero's own errors: pin in use, no pin factory, ...
        raise _gpio_problem(where, exc) from exc


def _level(frame: Frame) -> float:
    """The first pixel's level 0..1 (its brightest channel)."""
    return max(frame.pixels[0]) / 255.0 if frame.pixels else 0.0


class _OneLed:
    led_count = 1
    kind = "LED"

    def __init__(self, *, pin: int, active_high: bool = True, pin_factory: Any = None) -> None:
        self.pin = pin
        self.active_high = active_high
        self.pin_factory = pin_factory
        self.label = f"{self.kind} on GPIO{pin}"
        self.device: Any = None

    def open(self) -> None:
        self.close()
        self.device = _make(
            self.kind,
            self.label,
            self.pin,
            active_high=self.active_high,
            initial_value=False,
            pin_factory=self.pin_factory,
        )

    def close(self) -> None:
        device, self.device = self.device, None
        if device is not None:
            device.close()


class SingleLedDriver(_OneLed):
    """An on/off LED: on while the pattern is at least half lit (and brightness > 0)."""

    kind = "LED"

    def show(self, frame: Frame) -> None:
        on = _level(frame) >= 0.5 and frame.brightness > 0
        if bool(self.device.value) != on:
            self.device.value = on

    def writer(self, frame: Frame) -> Callable[[], object]:
        return functools.partial(self.show, frame)


class PwmLedDriver(_OneLed):
    """A dimmable LED: duty cycle = the pattern's level x the brightness."""

    kind = "PWMLED"

    def show(self, frame: Frame) -> None:
        self.device.value = round(_level(frame) * frame.brightness, 4)

    def writer(self, frame: Frame) -> Callable[[], object]:
        return functools.partial(self.show, frame)


class RgbLedDriver:
    """A three-pin RGB LED: each leg's duty cycle = its channel x the brightness."""

    led_count = 1

    def __init__(
        self,
        *,
        red_pin: int,
        green_pin: int,
        blue_pin: int,
        active_high: bool = True,
        pin_factory: Any = None,
    ) -> None:
        self.pins = (red_pin, green_pin, blue_pin)
        self.active_high = active_high
        self.pin_factory = pin_factory
        self.label = f"RGB LED on GPIO{red_pin}/{green_pin}/{blue_pin}"
        self.device: Any = None

    def open(self) -> None:
        self.close()
        self.device = _make(
            "RGBLED",
            self.label,
            *self.pins,
            active_high=self.active_high,
            pin_factory=self.pin_factory,
        )

    def show(self, frame: Frame) -> None:
        r, g, b = frame.pixels[0] if frame.pixels else (0, 0, 0)
        k = frame.brightness / 255.0
        self.device.color = (round(r * k, 4), round(g * k, 4), round(b * k, 4))

    def writer(self, frame: Frame) -> Callable[[], object]:
        return functools.partial(self.show, frame)

    def close(self) -> None:
        device, self.device = self.device, None
        if device is not None:
            device.close()
