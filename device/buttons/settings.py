"""Settings of the push-to-talk button (the `button:` section of the config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from device.common.options import option


@dataclass(frozen=True, kw_only=True)
class ButtonSettings:
    """A push-to-talk button on a GPIO pin, read with gpiozero.

    ``hold``: talk while the button is held, the turn is committed on release. ``toggle``:
    press to start talking, press again to end the turn. In both, a press while the
    assistant speaks interrupts it and a long press (``hold_time_s``) ends the conversation.
    """

    enabled: bool = option(False, doc="Read the push-to-talk button.")
    pin: int = option(17, doc="BCM GPIO number of the button.", min=0, max=53)
    mode: Literal["hold", "toggle"] = option(
        "hold", doc="hold: talk while held; toggle: press to start, press to end the turn."
    )
    pull_up: bool = option(
        True, doc="true: the button connects the pin to ground (internal pull-up)."
    )
    bounce_time_ms: int = option(
        20, doc="Ignore contact bounce this long after a change (0: off).", min=0, max=1000
    )
    hold_time_s: float | None = option(
        None,
        doc="A press this long ends the conversation (null: 2 s in toggle mode, 8 s in hold).",
        min=0.3,
        max=60,
    )
    min_press_ms: int = option(100, doc="Presses shorter than this are ignored.", min=0, max=2000)
    min_talk_ms: int = option(
        100, doc="A turn with less audio than this commits nothing.", min=0, max=2000
    )

    @property
    def long_press_s(self) -> float:
        """The effective ``hold_time_s``."""
        if self.hold_time_s is not None:
            return self.hold_time_s
        return 8.0 if self.mode == "hold" else 2.0

    def __post_init__(self) -> None:
        if self.hold_time_s is not None and self.hold_time_s * 1000 <= self.min_press_ms:
            raise ValueError(
                f"hold_time_s {self.hold_time_s:g} must be longer than min_press_ms "
                f"{self.min_press_ms}"
            )


@dataclass(frozen=True, kw_only=True)
class MuteSwitchSettings:
    """A mute switch on a GPIO pin (the `mute:` section): closed (pressed) mutes the
    microphone, open unmutes it. SIGUSR2 toggles mute without a switch."""

    enabled: bool = option(False, doc="Read the mute switch.")
    pin: int = option(27, doc="BCM GPIO number of the switch.", min=0, max=53)
    pull_up: bool = option(
        True, doc="true: the switch connects the pin to ground (internal pull-up)."
    )
    bounce_time_ms: int = option(
        50, doc="Ignore contact bounce this long after a change (0: off).", min=0, max=1000
    )
