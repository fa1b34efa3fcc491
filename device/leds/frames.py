"""Frames from the LED state: what `Animator` (device/leds/animator.py) asks for each turn.

`FrameMaker.compose(now_ms)` gives the frame to show and when the next is due. A moving
pattern runs on a grid of frames counted from when it began to show, so a repeating one
repeats its frames, and each is made once. ``compose`` runs 30 times a second on a cold
CPU (the thread sleeps between frames), so its common case reads a few attributes: what
shows is judged again (under the state's lock) only after a change (`changed`, called by
the service after a report), when a timed input lapses, or once a second (the night
schedule).

Example::

    maker = FrameMaker(state, lock, patterns, settings, led_count=12)
    frame, due_ms = maker.compose(1234.0)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from device.leds.arbiter import LedState
from device.leds.patterns import Frame, Pattern, brightness_at
from device.leds.settings import LedSettings

CACHE_FRAMES = 1024
"""At most this many frames kept per pattern and brightness (a repeating one has <= 90)."""


@dataclass(frozen=True, slots=True)
class _Hot:
    """What `FrameMaker.compose` needs per frame, judged once until something changes."""

    generation: int
    until_ms: float  # judge again from then (a timed lapse, or the next second)
    lapse_ms: float  # a timed input lapses then (math.inf: none)
    since_ms: float
    pattern: Pattern
    cycle: int  # frames per period when whole, else 0
    level: float  # the brightness
    frames: dict[int, Frame]  # this pattern's frames at this brightness, by index
    still: Frame | None  # a still pattern's one frame


def _cycle(period_ms: float | None, frame_ms: float) -> int:
    """Frames in one period of a repeating pattern, when a whole number (else 0)."""
    if not period_ms:
        return 0
    frames = period_ms / frame_ms
    return round(frames) if abs(frames - round(frames)) < 1e-6 else 0


class FrameMaker:
    """See the module docstring."""

    def __init__(
        self,
        state: LedState,
        lock: threading.Lock,
        patterns: dict[str, Pattern],
        settings: LedSettings,
        *,
        led_count: int,
        local_minutes: Callable[[], float],
    ) -> None:
        self.state = state
        self.lock = lock
        self.patterns = patterns
        self.settings = settings
        self.frame_ms = 1000.0 / settings.fps
        self.showing: str | None = None  # the pattern of the last frame made
        self.generation = 0  # bumped by every change of the state
        self._n = led_count
        self._local_minutes = local_minutes
        self._frames: dict[tuple[str, float], dict[int, Frame]] = {}  # by (pattern, level)
        self._hot: _Hot | None = None
        self._cycles = {name: _cycle(p.period_ms, self.frame_ms) for name, p in patterns.items()}

    def changed(self) -> None:
        """The state changed (call after the change, outside the lock): judge again."""
        self.generation += 1

    def compose(self, now_ms: float) -> tuple[Frame, float | None]:
        """The frame at ``now_ms`` and when the next is due (None: still).

        A moving pattern runs on a grid of frames from when it began, so a repeating one
        repeats its frames, and each is made once. This runs 30 times a second on a cold
        CPU, so the common case reads a few attributes: what shows is judged again only
        after a report, a timed lapse, or a second (the night schedule)."""
        hot = self._hot
        if hot is None or hot.generation != self.generation or now_ms >= hot.until_ms:
            hot = self._judge(now_ms)
        if hot.still is not None:
            return hot.still, None if hot.lapse_ms == math.inf else hot.lapse_ms
        k = round((now_ms - hot.since_ms) / self.frame_ms)
        index = k % hot.cycle if hot.cycle else k
        frame = hot.frames.get(index) if k else None  # a first frame carries its own time
        if frame is None:
            pixels = hot.pattern.pixels(k * self.frame_ms, self._n)
            frame = Frame(hot.pattern.name, pixels, hot.level, now_ms)
            if len(hot.frames) < CACHE_FRAMES:
                hot.frames[index] = frame
        return frame, min(hot.since_ms + (k + 1) * self.frame_ms, hot.lapse_ms)

    def _judge(self, now_ms: float) -> _Hot:
        generation = self.generation
        with self.lock:
            showing = self.state.showing(now_ms)
            lapse_ms = self.state.judged_until
        self.showing = showing.name
        level = brightness_at(self.settings, self._local_minutes())
        pattern = self.patterns[showing.name]
        frames = self._frames.setdefault((showing.name, level), {})
        still = (
            None
            if pattern.animated
            else Frame(showing.name, pattern.pixels(0.0, self._n), level, now_ms)
        )
        hot = _Hot(
            generation,
            min(lapse_ms, now_ms + 1000.0),
            lapse_ms,
            showing.since_ms,
            pattern,
            self._cycles[showing.name],
            level,
            frames,
            still,
        )
        self._hot = hot
        return hot
