"""The push-to-talk button on a GPIO pin through gpiozero (adapter).

gpiozero calls back on its own thread; each callback becomes ``on_event(event, now_ms)``
on that thread, with ``now_ms`` from ``clock_ms`` (the monotonic clock by default). The
caller hands the event to the loop thread-safely and runs ``PushToTalk`` there.

The pin factory is passed in (tests: ``MockFactory()``); None lets gpiozero choose
(``GPIOZERO_PIN_FACTORY=mock`` on a laptop, lgpio on a Pi 5).

Example::

    button = GpioButton(settings, lambda e, t: loop.call_soon_threadsafe(handle, e, t))
    ...
    button.close()
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

from device.buttons.ptt import ButtonEvent
from device.buttons.settings import ButtonSettings

OnButton = Callable[[ButtonEvent, float], None]


class ButtonUnavailable(Exception):
    """The button's pin cannot be used; the message is one line naming it."""


def _monotonic_ms() -> float:
    return time.monotonic() * 1000.0


class GpioButton:
    """See the module docstring."""

    def __init__(
        self,
        settings: ButtonSettings,
        on_event: OnButton,
        *,
        pin_factory: Any = None,
        clock_ms: Callable[[], float] = _monotonic_ms,
    ) -> None:
        try:
            from gpiozero import Button
        except ImportError as exc:
            raise ButtonUnavailable(f"button: gpiozero is not installed ({exc})") from exc
        self.settings = settings
        self._on_event = on_event
        self._clock_ms = clock_ms
        try:
            with warnings.catch_warnings():  # gpiozero warns once per factory it falls back from
                warnings.simplefilter("ignore")
                self._button = Button(
                    settings.pin,
                    pull_up=settings.pull_up,
                    bounce_time=settings.bounce_time_ms / 1000.0 or None,
                    hold_time=settings.long_press_s,
                    pin_factory=pin_factory,
                )
        except Exception as exc:  # gpiozero's own errors: pin in use, no pin factory, ...
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "pin factory" in text:
                text += " (on a Pi: install lgpio; elsewhere: GPIOZERO_PIN_FACTORY=mock)"
            raise ButtonUnavailable(f"button on GPIO{settings.pin}: {text}") from exc
        self._button.when_pressed = lambda: self._emit(ButtonEvent.PRESSED)
        self._button.when_released = lambda: self._emit(ButtonEvent.RELEASED)
        self._button.when_held = lambda: self._emit(ButtonEvent.HELD)

    @property
    def is_pressed(self) -> bool:
        return bool(self._button.is_pressed)

    @property
    def pin(self) -> Any:
        """gpiozero's pin object (tests drive a MockFactory pin through it)."""
        return self._button.pin

    def _emit(self, event: ButtonEvent) -> None:
        self._on_event(event, self._clock_ms())

    def close(self) -> None:
        self._button.close()
