"""Settings of the status LEDs (the `leds:` section of the config).

Colours are written ``"#rrggbb"`` (quoted: an unquoted ``#`` starts a YAML comment),
``rrggbb``, or one of the names in `NAMED_COLOURS`; `rgb()` turns them into a tuple.
Times of day are ``"HH:MM"`` on the device's local clock.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Literal

from device.common.options import option

RGB = tuple[int, int, int]

NAMED_COLOURS: dict[str, RGB] = {
    "off": (0, 0, 0),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 80, 255),
    "cyan": (0, 200, 255),
    "amber": (255, 160, 0),
    "orange": (255, 80, 0),
    "yellow": (255, 220, 0),
    "purple": (170, 0, 255),
    "magenta": (255, 0, 200),
}

_HEX = re.compile(r"#?([0-9a-fA-F]{6})")
_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def rgb(text: str) -> RGB:
    """A colour setting as (r, g, b), 0..255 each; ValueError naming the forms it takes."""
    named = NAMED_COLOURS.get(text.strip().lower())
    if named is not None:
        return named
    m = _HEX.fullmatch(text.strip())
    if m is None:
        raise ValueError(
            f'must be "#rrggbb" (quoted: # starts a YAML comment) or one of '
            f"{', '.join(NAMED_COLOURS)} (got {text!r})"
        )
    value = int(m.group(1), 16)
    return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


def minutes_of_day(text: str) -> int:
    """``"HH:MM"`` as minutes since midnight; ValueError when it is not a time of day."""
    m = _HHMM.fullmatch(text.strip())
    if m is None:
        raise ValueError(f'must be a time of day "HH:MM", 00:00 to 23:59 (got {text!r})')
    return int(m.group(1)) * 60 + int(m.group(2))


@dataclass(frozen=True, kw_only=True)
class LedColours:
    """One colour per pattern (docs/leds.md shows what each pattern does with it)."""

    starting: str = option("white", doc="Starting up: a slow spin.")
    idle: str = option("off", doc="Waiting for a wake: dark by default (a dim colour glows).")
    wake: str = option("white", doc="The short 'heard you' flash on a wake word or button.")
    listening: str = option("blue", doc="The caller may speak: steady.")
    thinking: str = option("cyan", doc="Waiting for the reply: a spin.")
    speaking: str = option("blue", doc="The reply plays: a pulse.")
    tool: str = option("amber", doc="A tool the model called runs: a two-headed spin.")
    handover: str = option("purple", doc="A human was called: a double blink.")
    reconnecting: str = option("orange", doc="The link dropped mid-conversation: a spin.")
    offline: str = option("orange", doc="No link, the offline prompts serve: a slow pulse.")
    error: str = option("red", doc="A fatal problem (bad key, no microphone): a blink.")
    muted: str = option("red", doc="The microphone is muted: steady.")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            try:
                rgb(getattr(self, f.name))
            except ValueError as exc:
                raise ValueError(f"{f.name}: {exc}") from None

    def of(self, pattern: str) -> RGB:
        """The colour of the pattern named ``pattern`` (a field name)."""
        return rgb(getattr(self, pattern))


Driver = Literal["none", "terminal", "single", "pwm", "rgb", "apa102", "usb_ring"]


@dataclass(frozen=True, kw_only=True)
class LedSettings:
    """Status LEDs: what the device is doing, at a glance (docs/leds.md).

    ``driver`` picks the hardware: ``single`` (an on/off LED), ``pwm`` (a dimmable LED),
    ``rgb`` (a three-pin RGB LED) through gpiozero; ``apa102`` (the ReSpeaker 2-mic and
    4-mic HATs' rings, over SPI); ``usb_ring`` (the ReSpeaker USB Mic Array v2.0's ring);
    ``terminal`` (a line per pattern change on the console); ``none``.
    """

    driver: Driver = option(
        "none",
        doc="none, terminal, single, pwm, rgb, apa102 or usb_ring (docs/leds.md).",
    )
    pin: int = option(12, doc="single/pwm: BCM GPIO number of the LED.", min=0, max=53)
    red_pin: int = option(22, doc="rgb: BCM GPIO number of the red leg.", min=0, max=53)
    green_pin: int = option(23, doc="rgb: BCM GPIO number of the green leg.", min=0, max=53)
    blue_pin: int = option(24, doc="rgb: BCM GPIO number of the blue leg.", min=0, max=53)
    active_high: bool = option(
        True, doc="single/pwm/rgb: true when a high pin lights the LED (common cathode)."
    )
    led_count: int = option(
        12, doc="apa102/terminal: LEDs on the ring (2-mic HAT: 3, 4-mic HAT: 12).", min=1, max=256
    )
    spi_bus: int = option(0, doc="apa102: SPI bus (/dev/spidevBUS.DEVICE).", min=0, max=6)
    spi_device: int = option(1, doc="apa102: SPI chip select (ReSpeaker HATs: 1).", min=0, max=3)
    spi_mode: int = option(0, doc="apa102: SPI mode.", min=0, max=3)
    spi_speed_hz: int = option(8_000_000, doc="apa102: SPI clock.", min=100_000, max=32_000_000)
    power_pin: int | None = option(
        None, doc="apa102: GPIO that powers the LEDs (4-mic HAT: 5; null: none).", min=0, max=53
    )
    brightness: float = option(0.5, doc="Overall brightness, 0 (dark) to 1.", min=0, max=1)
    night_brightness: float = option(
        0.1, doc="Brightness between night_start and night_end.", min=0, max=1
    )
    night_start: str | None = option(
        None, doc='Local time the night brightness begins, "HH:MM" (null: no night).'
    )
    night_end: str | None = option(None, doc='Local time the night brightness ends, "HH:MM".')
    fps: int = option(30, doc="Frames per second while a pattern moves.", min=1, max=100)
    wake_flash_ms: int = option(
        400, doc="The 'heard you' flash on a wake word or button (0: none).", min=0, max=5000
    )
    handover_show_s: float = option(
        300.0,
        doc="After a hand-over ends the conversation, show it this long (or to the next wake).",
        min=0,
        max=86400,
    )
    write_timeout_ms: int = option(
        200, doc="A driver write slower than this is counted as slow.", min=10, max=10000
    )
    retry_s: float = option(5.0, doc="Try a failed LED device again this often.", min=0.5, max=3600)
    colours: LedColours = option(LedColours(), doc="One colour per pattern.")
    stopped_colour: str = option(
        "off", doc="Shown when the service stops (off: dark), e.g. red for 'out of order'."
    )

    def __post_init__(self) -> None:
        try:
            rgb(self.stopped_colour)
        except ValueError as exc:
            raise ValueError(f"stopped_colour: {exc}") from None
        if (self.night_start is None) != (self.night_end is None):
            raise ValueError("give both night_start and night_end, or neither")
        for name in ("night_start", "night_end"):
            value = getattr(self, name)
            if value is not None:
                try:
                    minutes_of_day(value)
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        if self.driver == "rgb" and len({self.red_pin, self.green_pin, self.blue_pin}) < 3:
            raise ValueError("red_pin, green_pin and blue_pin must be three different pins")

    @property
    def stopped_rgb(self) -> RGB:
        return rgb(self.stopped_colour)
