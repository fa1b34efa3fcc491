"""The mute switch on a GPIO pin through gpiozero (adapter).

Closed (pressed) is muted, open is unmuted. gpiozero calls back on its own thread: each
change becomes ``on_change(muted)`` on that thread, and the caller hands it to the loop
(the daemon's `Inbox`). ``is_muted`` says where the switch stands at start-up. The pin
factory is passed in (tests: ``MockFactory()``).

Example::

    switch = MuteSwitch(settings.mute, lambda muted: inbox.trigger(...))
    ...
    switch.close()
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from device.buttons.gpio import ButtonUnavailable
from device.buttons.settings import MuteSwitchSettings


class MuteSwitch:
    def __init__(
        self,
        settings: MuteSwitchSettings,
        on_change: Callable[[bool], None],
        *,
        pin_factory: Any = None,
    ) -> None:
        try:
            from gpiozero import Button
        except ImportError as exc:
            raise ButtonUnavailable(f"mute switch: gpiozero is not installed ({exc})") from exc
        try:
            with warnings.catch_warnings():  # gpiozero warns once per factory it falls back from
                warnings.simplefilter("ignore")
                self._switch = Button(
                    settings.pin,
                    pull_up=settings.pull_up,
                    bounce_time=settings.bounce_time_ms / 1000.0 or None,
                    pin_factory=pin_factory,
                )
        except Exception as exc:  # pin in use, no pin factory, ...
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ButtonUnavailable(f"mute switch on GPIO{settings.pin}: {text}") from exc
        self._switch.when_pressed = lambda: on_change(True)
        self._switch.when_released = lambda: on_change(False)

    @property
    def is_muted(self) -> bool:
        return bool(self._switch.is_pressed)

    @property
    def pin(self) -> Any:
        """gpiozero's pin object (tests drive a MockFactory pin through it)."""
        return self._switch.pin

    def close(self) -> None:
        self._switch.close()
