"""The gpiozero adapter on MockFactory pins: real gpiozero edge handling, bounce and hold."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from device.buttons.gpio import ButtonUnavailable, GpioButton
from device.buttons.ptt import ButtonEvent, PushToTalk, Start, TalkBegin, TalkEnd
from device.buttons.settings import ButtonSettings


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()
    Device.pin_factory = None


class Clock:
    def __init__(self) -> None:
        self.now_ms = 0.0

    def __call__(self) -> float:
        return self.now_ms


def wait(events: queue.Queue[tuple[ButtonEvent, float]]) -> tuple[ButtonEvent, float]:
    return events.get(timeout=5)


def test_press_hold_release_reach_the_state_machine(factory: MockFactory) -> None:
    clock = Clock()
    events: queue.Queue[tuple[ButtonEvent, float]] = queue.Queue()
    settings = ButtonSettings(enabled=True, pin=17, bounce_time_ms=0, hold_time_s=0.3)
    button = GpioButton(
        settings, lambda e, t: events.put((e, t)), pin_factory=factory, clock_ms=clock
    )
    try:
        ptt = PushToTalk("hold", long_press_ms=settings.long_press_s * 1000)
        pin = factory.pin(17)
        pin.drive_low()  # pull-up: pressed connects the pin to ground
        assert wait(events) == (ButtonEvent.PRESSED, 0.0)
        assert button.is_pressed
        assert ptt.handle(ButtonEvent.PRESSED, 0.0) == []
        assert ptt.tick(100.0) == [Start(), TalkBegin(pressed_ms=0.0)]
        assert wait(events)[0] is ButtonEvent.HELD  # gpiozero's hold timer, 0.3 s
        clock.now_ms = 250.0
        pin.drive_high()
        assert wait(events) == (ButtonEvent.RELEASED, 250.0)
        assert ptt.handle(ButtonEvent.RELEASED, 250.0) == [TalkEnd(commit=True, talk_ms=150.0)]
    finally:
        button.close()


def test_pull_down_wiring_presses_on_a_high_level(factory: MockFactory) -> None:
    events: queue.Queue[tuple[ButtonEvent, float]] = queue.Queue()
    settings = ButtonSettings(enabled=True, pin=27, pull_up=False, bounce_time_ms=0)
    button = GpioButton(settings, lambda e, t: events.put((e, t)), pin_factory=factory)
    try:
        factory.pin(27).drive_high()
        assert wait(events)[0] is ButtonEvent.PRESSED
        factory.pin(27).drive_low()
        assert wait(events)[0] is ButtonEvent.RELEASED
    finally:
        button.close()


def test_a_pin_already_in_use_is_one_line_naming_it(factory: MockFactory) -> None:
    settings = ButtonSettings(enabled=True, pin=22)
    first = GpioButton(settings, lambda e, t: None, pin_factory=factory)
    try:
        with pytest.raises(ButtonUnavailable, match=r"^button on GPIO22: ") as info:
            GpioButton(settings, lambda e, t: None, pin_factory=factory)
        assert "\n" not in str(info.value)
    finally:
        first.close()
