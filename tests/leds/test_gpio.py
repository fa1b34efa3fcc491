"""The gpiozero drivers on MockFactory(pin_class=MockPWMPin): pin histories per state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from device.conversation.reports import Ready, StateChanged
from device.conversation.state import State
from device.leds.arbiter import LedState
from device.leds.driver import Driver, DriverUnavailable
from device.leds.gpio import PwmLedDriver, RgbLedDriver, SingleLedDriver
from device.leds.patterns import Frame, build_patterns
from device.leds.settings import LedColours

PATTERNS = build_patterns(LedColours(), wake_flash_ms=400)
TIMES = [float(t) for t in range(0, 1001, 100)]


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()
    Device.pin_factory = None


def play(driver: Driver, state: State, brightness: float = 1.0) -> None:
    """The frames of ``state``'s pattern at TIMES, as the service would hand them over."""
    leds = LedState(wake_flash_ms=0, handover_show_ms=0)
    leds.report(0.0, Ready(after_ms=0.0, standby=True, offline=False))
    leds.report(0.0, StateChanged(State.IDLE, state))
    name = leds.showing(0.0).name
    for t in TIMES:
        driver.show(Frame(name, PATTERNS[name].pixels(t, driver.led_count), brightness, t))


def history(factory: MockFactory, pin: int) -> list[Any]:
    return [s.state for s in factory.pin(pin).states]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (State.IDLE, [False]),  # dark: nothing written
        (State.LISTENING, [False, True]),  # steady
        (State.THINKING, [False, True, False, True]),  # the spin's head passes once a second
        (State.ERROR, [False, True, False, True]),  # blink: on 0-499 ms, off, on at 1000
        (State.OFFLINE, [False]),  # a dim pulse never reaches half: stays dark
    ],
)
def test_single_led(factory: MockFactory, state: State, expected: list[Any]) -> None:
    led = SingleLedDriver(pin=12, pin_factory=factory)
    led.open()
    try:
        play(led, state)
        assert history(factory, 12) == expected
    finally:
        led.close()


def test_single_led_is_dark_at_brightness_zero(factory: MockFactory) -> None:
    led = SingleLedDriver(pin=12, pin_factory=factory)
    led.open()
    play(led, State.LISTENING, brightness=0.0)
    assert history(factory, 12) == [False]
    led.close()


def test_pwm_led_breathes_while_speaking(factory: MockFactory) -> None:
    led = PwmLedDriver(pin=13, pin_factory=factory)
    led.open()
    play(led, State.SPEAKING, brightness=0.5)
    values = history(factory, 13)[1:]
    led.close()
    peak = values.index(max(values))
    assert 0 < peak < len(values) - 1  # up, then down: a pulse (900 ms)
    assert max(values) == pytest.approx(0.5, abs=0.01)  # full level x brightness 0.5
    assert min(values) == pytest.approx(0.5 * 0.3, abs=0.01)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (State.LISTENING, [0.5]),  # steady, at the brightness
        (State.THINKING, [0.5, 0.3745, 0.251, 0.1255, 0.051]),  # the head, then its tail
    ],
)
def test_pwm_led_levels(factory: MockFactory, state: State, expected: list[float]) -> None:
    led = PwmLedDriver(pin=13, pin_factory=factory)
    led.open()
    play(led, state, brightness=0.5)
    values = history(factory, 13)[1:]
    led.close()
    assert values[: len(expected)] == pytest.approx(expected, abs=0.001)


def test_rgb_led_colours_per_state(factory: MockFactory) -> None:
    led = RgbLedDriver(red_pin=22, green_pin=23, blue_pin=24, pin_factory=factory)
    led.open()
    try:
        play(led, State.LISTENING)  # blue (0, 80, 255)
        assert (history(factory, 22), history(factory, 24)) == ([False], [False, 1.0])
        assert history(factory, 23)[-1] == pytest.approx(80 / 255, abs=0.001)
        play(led, State.ERROR, brightness=0.5)  # red blink
        assert history(factory, 22)[1:] == [0.5, 0.0, 0.5]
        assert history(factory, 24)[-1] == 0.0
    finally:
        led.close()


def test_a_pin_in_use_is_one_line_naming_it(factory: MockFactory) -> None:
    first = SingleLedDriver(pin=12, pin_factory=factory)
    first.open()
    try:
        with pytest.raises(DriverUnavailable, match=r"^leds: LED on GPIO12: ") as info:
            SingleLedDriver(pin=12, pin_factory=factory).open()
        assert "\n" not in str(info.value)
    finally:
        first.close()


def test_close_is_idempotent_and_frees_the_pin(factory: MockFactory) -> None:
    led = PwmLedDriver(pin=12, pin_factory=factory)
    led.open()
    led.close()
    led.close()
    led.open()  # the pin is free again
    led.close()
