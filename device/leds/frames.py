"""Frames from the LED state: what `Animator` (device/leds/animator.py) asks for each turn.

`FrameMaker.compose(now_ms)` gives the frame to show and when the next *different* one is
due, so the LED thread wakes for changes only: 30 times a second for a spin, a few times
for a blink, never for a still pattern (but for a timed lapse, and once a second when a
night schedule is set). A moving pattern runs on a grid of frames counted from when it
began to show. A repeating one's frames over a period are made once per brightness, as a
`Cycle` (equal frames one object, so a driver's encoding cache holds), and `ahead` hands
the thread a `Run` of it to show on its own. What shows is judged again (under the
state's lock) only after a change (`changed`, called by the service after a report), when
a timed input lapses, or, with a night schedule, at the first change a second after the
last look (the patterns change at least once a second while they move).

Example::

    maker = FrameMaker(state, lock, patterns, settings, led_count=12)
    frame, due_ms = maker.compose(1234.0)
    run = maker.ahead(1234.0)   # a repeating pattern's frames from there, or None
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from device.leds.animator import Run
from device.leds.arbiter import LedState
from device.leds.patterns import Frame, Pattern, Pixels, brightness_at
from device.leds.settings import LedSettings

CACHE_FRAMES = 1024
"""At most this many frames kept per pattern and brightness (a repeating one has <= 90)."""

LOOK_MS = 1000.0
"""With a night schedule, what shows is looked at again this often (at a change)."""

AHEAD_STEPS = 30
"""A pattern that does not repeat is looked ahead this many frames for its next change."""


@dataclass(frozen=True, slots=True)
class Cycle:
    """A repeating pattern's frames over a whole number of periods, one per grid step
    (equal frames are one object), and for each step how many steps on the next different
    frame comes (all 0: the frames are all the same)."""

    frames: tuple[Frame, ...]
    steps: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Hot:
    """What `FrameMaker.compose` needs per frame, judged once until something changes."""

    generation: int
    until_ms: float  # judge again from then: min(lapse_ms, look_ms)
    look_ms: float  # the night schedule's next look (math.inf: no schedule)
    lapse_ms: float  # a timed input lapses then (math.inf: none)
    since_ms: float
    pattern: Pattern
    level: float  # the brightness
    repeat: int  # a repeating pattern: steps in its cycle (else 0)
    cycle: Cycle | None  # its frames, once made (`ahead`)
    frames: dict[int, Frame]  # another moving pattern's frames at this brightness, by step
    still: Frame | None  # a still pattern's one frame (or a cycle of equal frames')


def _cycle(period_ms: float | None, frame_ms: float) -> int:
    """Frames in the fewest whole periods of a repeating pattern that are a whole number of
    frames (at most `CACHE_FRAMES`; else 0)."""
    if not period_ms:
        return 0
    for periods in range(1, 65):
        frames = periods * period_ms / frame_ms
        if abs(frames - round(frames)) < 1e-6:
            return round(frames) if round(frames) <= CACHE_FRAMES else 0
    return 0


def make_cycle(pattern: Pattern, n: int, level: float, frame_ms: float, leds: int) -> Cycle:
    """The `Cycle` of ``pattern`` over ``n`` grid steps at brightness ``level``."""
    made: dict[Pixels, Frame] = {}
    frames = []
    for i in range(n):
        pixels = pattern.pixels(i * frame_ms, leds)
        frame = made.get(pixels)
        if frame is None:
            frame = made[pixels] = Frame(pattern.name, pixels, level, 0.0)
        frames.append(frame)
    steps = [0] * n
    if len(made) > 1:  # from the end, twice round: every step learns its next change
        d = 0
        for i in range(2 * n - 1, -1, -1):
            d = 1 if frames[(i + 1) % n] is not frames[i % n] else d + 1
            steps[i % n] = d
    return Cycle(tuple(frames), tuple(steps))


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
        self._scheduled = settings.night_start is not None and settings.night_end is not None
        self._frames: dict[tuple[str, float], dict[int, Frame]] = {}  # by (pattern, level)
        self._repeats = {name: _cycle(p.period_ms, self.frame_ms) for name, p in patterns.items()}
        self._cycles: dict[tuple[str, float], Cycle] = {}
        self._hot: _Hot | None = None

    def changed(self) -> None:
        """The state changed (call after the change, outside the lock): judge again."""
        self.generation += 1

    def compose(self, now_ms: float) -> tuple[Frame, float | None]:
        """The frame at ``now_ms`` and when the next different one is due (None: nothing
        changes until `changed`). The first frame of a showing carries its own time."""
        hot = self._hot
        if hot is None or hot.generation != self.generation or now_ms >= hot.until_ms:
            hot = self._judge(now_ms)
        if hot.still is not None:
            return hot.still, None if hot.until_ms == math.inf else hot.until_ms
        k = round((now_ms - hot.since_ms) / self.frame_ms)
        cycle = hot.cycle
        if cycle is not None:
            i = k % len(cycle.frames)
            frame, step = cycle.frames[i], cycle.steps[i]
        else:  # not repeating, or its cycle not made yet (`ahead` makes it)
            frame, step = self._ahead_of(hot, k)
        if not k:
            frame = Frame(frame.name, frame.pixels, frame.brightness, now_ms)
        if not step:  # nothing changes ahead
            return frame, None if hot.until_ms == math.inf else hot.until_ms
        return frame, min(hot.since_ms + (k + step) * self.frame_ms, hot.lapse_ms)

    def ahead(self, now_ms: float) -> Run | None:
        """The `Run` of the repeating pattern whose frame `compose` gave at ``now_ms``
        (None: still, or not repeating). Its cycle is made here, the first time, once that
        frame is written: a change shows without waiting for it."""
        hot = self._hot
        if hot is None or hot.still is not None or not hot.repeat:
            return None
        cycle = hot.cycle
        if cycle is None:
            key = (hot.pattern.name, hot.level)
            cycle = self._cycles.get(key)
            if cycle is None:
                cycle = make_cycle(hot.pattern, hot.repeat, hot.level, self.frame_ms, self._n)
                self._cycles[key] = cycle
            still = (
                None
                if cycle.steps[0]
                else Frame(hot.pattern.name, cycle.frames[0].pixels, hot.level, now_ms)
            )
            self._hot = hot = replace(hot, cycle=cycle, still=still)
            if still is not None:  # all the same
                return None
        k = round((now_ms - hot.since_ms) / self.frame_ms)
        return Run(
            cycle.frames, cycle.steps, hot.since_ms, self.frame_ms, k, hot.look_ms, hot.lapse_ms
        )

    def _ahead_of(self, hot: _Hot, k: int) -> tuple[Frame, int]:
        """A moving pattern's frame at step ``k`` without its cycle, and the steps to the
        next different one (0: none within `AHEAD_STEPS` and before the lapse)."""
        frame = self._frame_at(hot, k)
        for step in range(1, AHEAD_STEPS + 1):
            if hot.since_ms + (k + step) * self.frame_ms >= hot.lapse_ms:
                return frame, 0
            if self._frame_at(hot, k + step).pixels != frame.pixels:
                return frame, step
        return frame, AHEAD_STEPS  # look again then

    def _frame_at(self, hot: _Hot, k: int) -> Frame:
        index = k % hot.repeat if hot.repeat else k
        frame = hot.frames.get(index)
        if frame is None:
            pixels = hot.pattern.pixels(index * self.frame_ms, self._n)
            frame = Frame(hot.pattern.name, pixels, hot.level, hot.since_ms + k * self.frame_ms)
            if len(hot.frames) < CACHE_FRAMES:
                hot.frames[index] = frame
        return frame

    def _judge(self, now_ms: float) -> _Hot:
        generation = self.generation
        with self.lock:
            showing = self.state.showing(now_ms)
            lapse_ms = self.state.judged_until
        name = self.showing = showing.name
        level = (
            brightness_at(self.settings, self._local_minutes())
            if self._scheduled
            else self.settings.brightness
        )
        pattern = self.patterns[name]
        look_ms = now_ms + LOOK_MS if self._scheduled else math.inf
        repeat = self._repeats[name] if pattern.animated else 0
        cycle = self._cycles.get((name, level)) if repeat else None
        still = None
        if not pattern.animated:
            still = Frame(name, pattern.pixels(0.0, self._n), level, now_ms)
        elif cycle is not None and not cycle.steps[0]:  # all the same: a still one
            still = Frame(name, cycle.frames[0].pixels, level, now_ms)
        hot = _Hot(
            generation,
            min(lapse_ms, look_ms),
            look_ms,
            lapse_ms,
            showing.since_ms,
            pattern,
            level,
            repeat,
            cycle,
            self._frames.setdefault((name, level), {}),
            still,
        )
        self._hot = hot
        return hot
