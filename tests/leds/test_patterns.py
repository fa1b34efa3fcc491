"""Patterns are pure timelines: a frame is a function of t_ms, for any number of LEDs."""

from __future__ import annotations

import pytest

from device.leds.patterns import (
    PATTERN_NAMES,
    blink,
    brightness_at,
    build_patterns,
    double_blink,
    fade,
    pulse,
    spin,
)
from device.leds.settings import LedColours, LedSettings

PATTERNS = build_patterns(LedColours(), wake_flash_ms=400)


def test_every_named_pattern_exists_in_its_colour() -> None:
    assert set(PATTERNS) == set(PATTERN_NAMES)
    for name in PATTERN_NAMES:
        assert PATTERNS[name].colour == LedColours().of(name)


@pytest.mark.parametrize("n", [1, 3, 12])
@pytest.mark.parametrize("name", PATTERN_NAMES)
def test_one_pixel_per_led_within_the_colour(name: str, n: int) -> None:
    r, g, b = PATTERNS[name].colour
    for t_ms in (0.0, 33.3, 250.0, 999.0, 12_345.6):
        pixels = PATTERNS[name].pixels(t_ms, n)
        assert len(pixels) == n
        for pr, pg, pb in pixels:
            assert 0 <= pr <= r and 0 <= pg <= g and 0 <= pb <= b


@pytest.mark.parametrize("name", PATTERN_NAMES)
def test_still_patterns_never_change_and_moving_ones_do(name: str) -> None:
    p = PATTERNS[name]
    frames = {p.pixels(t, 12) for t in range(0, 3000, 33)}
    if p.animated:
        assert len(frames) > 1 or p.colour == (0, 0, 0)
    else:
        assert len(frames) == 1


def test_defaults_follow_smart_speakers() -> None:
    assert PATTERNS["muted"].colour == (255, 0, 0) and not PATTERNS["muted"].animated
    assert PATTERNS["idle"].pixels(0.0, 12) == ((0, 0, 0),) * 12  # dark when idle

    def brightest(t_ms: float) -> int:
        blues = [b for _, _, b in PATTERNS["thinking"].pixels(t_ms, 12)]
        return blues.index(max(blues))

    assert [brightest(t) for t in (0.0, 250.0, 500.0)] == [
        0,
        3,
        6,
    ]  # a spin: the head goes round, a quarter turn per 250 ms
    speaking = [PATTERNS["speaking"].pixels(t, 1)[0][2] for t in (0.0, 450.0, 900.0)]
    assert speaking[0] < speaking[1] > speaking[2]  # a pulse


def test_spin_head_and_tail() -> None:
    levels = spin(1000.0, 0.25)(0.0, 4)
    assert levels == (1.0, 0.0, 0.0, 0.0)
    levels = spin(1000.0, 0.5)(500.0, 4)  # head at LED 2, LED 1 a quarter ring behind
    assert levels == (0.0, 0.5, 1.0, 0.0)
    two = spin(1000.0, 0.25, heads=2)(0.0, 4)
    assert two == (1.0, 0.0, 1.0, 0.0)
    assert spin(1000.0, 0.5, floor=0.1)(0.0, 4) == (1.0, 0.1, 0.1, 0.5)


def test_pulse_blink_double_blink_fade() -> None:
    assert pulse(1000.0, 0.2)(0.0, 1) == (0.2,)
    assert pulse(1000.0, 0.2)(500.0, 1) == (1.0,)
    assert [blink(1000.0, 500.0)(t, 1)[0] for t in (0, 499, 500, 1000)] == [1, 1, 0, 1]
    db = double_blink(1400.0, 150.0, 150.0)
    assert [db(t, 1)[0] for t in (0, 149, 150, 300, 449, 450, 1399, 1400)] == [
        1, 1, 0, 1, 1, 0, 0, 1,
    ]  # fmt: skip
    assert [fade(400.0)(t, 1)[0] for t in (0.0, 200.0, 400.0, 800.0)] == pytest.approx(
        [1.0, 0.65, 0.3, 0.3]
    )


def test_the_handover_pattern_is_unlike_any_other() -> None:
    """Easy to spot: its on/off rhythm over 1.4 s differs from every other pattern's."""

    def rhythm(name: str) -> tuple[bool, ...]:
        return tuple(max(PATTERNS[name].pixels(t, 1)[0]) > 60 for t in range(0, 1400, 50))

    others = {rhythm(n) for n in PATTERN_NAMES if n != "handover"}
    assert rhythm("handover") not in others


@pytest.mark.parametrize(
    ("start", "end", "minute", "expected"),
    [
        (None, None, 23 * 60, 0.5),
        ("22:00", "07:00", 23 * 60, 0.1),  # across midnight
        ("22:00", "07:00", 3 * 60, 0.1),
        ("22:00", "07:00", 7 * 60, 0.5),  # the end is day again
        ("22:00", "07:00", 12 * 60, 0.5),
        ("12:30", "14:00", 13 * 60, 0.1),  # within a day
        ("12:30", "14:00", 12 * 60 + 29, 0.5),
        ("08:00", "08:00", 8 * 60, 0.5),  # no night at all
    ],
)
def test_night_brightness_schedule(
    start: str | None, end: str | None, minute: int, expected: float
) -> None:
    s = LedSettings(brightness=0.5, night_brightness=0.1, night_start=start, night_end=end)
    assert brightness_at(s, minute) == expected
