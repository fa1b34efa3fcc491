"""LED patterns as pure timelines: colour and level per LED as a function of time.

A `Pattern` is a colour and a `Shape`; ``pattern.pixels(t_ms, n)`` gives the (r, g, b)
of each of ``n`` LEDs ``t_ms`` after the pattern began to show. No clock of its own, no
GPIO: the LED service (device/leds/service.py) asks for a frame, a driver shows it.
Shapes are defined over a continuous ring position, so one pattern fits a 12-LED ring,
the 3 LEDs of a 2-mic HAT and a single LED alike (a spin on one LED is a beat).

Brightness is not in the pixels: `Frame.brightness` carries it (the night schedule,
`brightness_at`) and each driver applies it its own way (APA102's 5-bit global level,
the USB ring's brightness command, a PWM duty cycle).

Example::

    patterns = build_patterns(LedColours(), wake_flash_ms=400)
    patterns["thinking"].pixels(250.0, 12)   # a spin, a quarter turn in
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from device.leds.settings import RGB, LedColours, LedSettings, minutes_of_day

Pixels = tuple[RGB, ...]
Shape = Callable[[float, int], tuple[float, ...]]
"""``(t_ms, n) -> level of each of n LEDs``, 0..1."""

PATTERN_NAMES = (
    "starting",
    "idle",
    "wake",
    "listening",
    "thinking",
    "speaking",
    "tool",
    "handover",
    "reconnecting",
    "offline",
    "error",
    "muted",
)
"""Every pattern, in the order `voice-kiosk doctor --leds` shows them."""


@dataclass(frozen=True, slots=True)
class Frame:
    """What a driver shows: the pattern's name (the terminal prints it), a colour per LED,
    the overall brightness 0..1, and when (ms on the service's clock)."""

    name: str
    pixels: Pixels
    brightness: float
    t_ms: float = 0.0


# -- shapes ------------------------------------------------------------------------------


def solid(level: float = 1.0) -> Shape:
    def shape(_t_ms: float, n: int) -> tuple[float, ...]:
        return (level,) * n

    return shape


def spin(period_ms: float, tail: float, heads: int = 1, floor: float = 0.0) -> Shape:
    """A bright head going round once per ``period_ms``, fading over ``tail`` of the ring
    (0..1) behind it; ``heads`` evenly spaced heads."""

    def shape(t_ms: float, n: int) -> tuple[float, ...]:
        head = (t_ms / period_ms) % 1.0
        spacing = 1.0 / heads
        out = []
        for i in range(n):
            behind = (head - i / n) % spacing  # how far (of the ring) the nearest head passed
            out.append(max(floor, 1.0 - behind / tail) if behind < tail else floor)
        return tuple(out)

    return shape


def pulse(period_ms: float, low: float, high: float = 1.0) -> Shape:
    """Breathing: from ``low`` up to ``high`` and back once per ``period_ms``."""

    def shape(t_ms: float, n: int) -> tuple[float, ...]:
        x = 0.5 - 0.5 * math.cos(2.0 * math.pi * ((t_ms / period_ms) % 1.0))
        return (low + (high - low) * x,) * n

    return shape


def blink(period_ms: float, on_ms: float) -> Shape:
    """On for ``on_ms`` at the start of each ``period_ms``, off for the rest."""

    def shape(t_ms: float, n: int) -> tuple[float, ...]:
        return (1.0 if t_ms % period_ms < on_ms else 0.0,) * n

    return shape


def double_blink(period_ms: float, on_ms: float, gap_ms: float) -> Shape:
    """Two short flashes, then dark to the end of ``period_ms``: unlike any other pattern."""

    def shape(t_ms: float, n: int) -> tuple[float, ...]:
        x = t_ms % period_ms
        lit = x < on_ms or on_ms + gap_ms <= x < 2 * on_ms + gap_ms
        return (1.0 if lit else 0.0,) * n

    return shape


def fade(duration_ms: float, start: float = 1.0, end: float = 0.3) -> Shape:
    """From ``start`` to ``end`` over ``duration_ms``, then ``end``."""

    def shape(t_ms: float, n: int) -> tuple[float, ...]:
        x = min(max(t_ms / duration_ms, 0.0), 1.0) if duration_ms > 0 else 1.0
        return (start + (end - start) * x,) * n

    return shape


# -- patterns ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pattern:
    """A named colour and shape; ``animated`` False: the same frame at every t_ms (the
    service then writes it once, on change)."""

    name: str
    colour: RGB
    shape: Shape
    animated: bool
    period_ms: float | None = None  # a moving pattern that repeats: its frames repeat too

    def pixels(self, t_ms: float, n: int) -> Pixels:
        r, g, b = self.colour
        return tuple(
            (round(r * level), round(g * level), round(b * level)) for level in self.shape(t_ms, n)
        )


def build_patterns(colours: LedColours, *, wake_flash_ms: float) -> dict[str, Pattern]:
    """Every pattern of `PATTERN_NAMES` in the configured colours (docs/leds.md)."""
    still, once = None, 0.0  # period_ms: a still pattern; one that does not repeat
    shapes: dict[str, tuple[Shape, float | None]] = {
        "starting": (spin(1600.0, 0.5, floor=0.05), 1600.0),
        "idle": (solid(), still),
        "wake": (fade(max(wake_flash_ms, 1.0)), once),
        "listening": (solid(), still),
        "thinking": (spin(1000.0, 0.4, floor=0.1), 1000.0),
        "speaking": (pulse(900.0, 0.3), 900.0),
        "tool": (spin(1200.0, 0.3, heads=2, floor=0.1), 1200.0),
        "handover": (double_blink(1400.0, 150.0, 150.0), 1400.0),
        "reconnecting": (spin(1000.0, 0.4, floor=0.05), 1000.0),
        "offline": (pulse(3000.0, 0.15, 0.6), 3000.0),
        "error": (blink(1000.0, 500.0), 1000.0),
        "muted": (solid(), still),
    }
    return {
        name: Pattern(name, colours.of(name), shape, period is not None, period or None)
        for name, (shape, period) in shapes.items()
    }


def solid_pattern(name: str, colour: RGB) -> Pattern:
    """A steady colour (the 'service stopped' frame)."""
    return Pattern(name, colour, solid(), False)


def brightness_at(settings: LedSettings, minute_of_day: float) -> float:
    """The overall brightness at a local time (minutes since midnight): ``night_brightness``
    from ``night_start`` to ``night_end`` (across midnight when start > end), else
    ``brightness``."""
    if settings.night_start is None or settings.night_end is None:
        return settings.brightness
    start, end = minutes_of_day(settings.night_start), minutes_of_day(settings.night_end)
    if start == end:
        return settings.brightness
    at_night = start <= minute_of_day < end if start < end else not end <= minute_of_day < start
    return settings.night_brightness if at_night else settings.brightness
