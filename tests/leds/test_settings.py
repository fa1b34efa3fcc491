"""The `leds:` settings from YAML: defaults, colours, the night schedule, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from device.common.problems import ConfigError
from device.config.builder import load_as
from device.leds.settings import LedColours, LedSettings, minutes_of_day, rgb


def load(tmp_path: Path, text: str) -> LedSettings:
    path = tmp_path / "leds.yaml"
    path.write_text(text)
    return load_as(LedSettings, path)


def test_defaults_change_nothing_for_existing_users() -> None:
    s = LedSettings()
    assert s.driver == "none" and s.fps == 30 and s.stopped_rgb == (0, 0, 0)
    assert s.colours.of("muted") == (255, 0, 0)


def test_a_ring_from_yaml(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        "driver: apa102\nled_count: 12\npower_pin: 5\nnight_start: 22:00\n"
        'night_end: "07:30"\ncolours:\n  listening: "#00ff00"\n  idle: 101010\n'
        "stopped_colour: amber\n",
    )
    assert (s.driver, s.power_pin, s.night_start, s.night_end) == ("apa102", 5, "22:00", "07:30")
    assert s.colours.of("listening") == (0, 255, 0)
    assert s.colours.of("idle") == (16, 16, 16)
    assert s.stopped_rgb == (255, 160, 0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("colours:\n  muted: #ff0000\n", "colours.muted: must not be empty"),
        ("colours:\n  muted: reddish\n", r'colours(: |\.)muted: must be "#rrggbb"'),
        ("stopped_colour: '#12345'\n", 'stopped_colour: must be "#rrggbb"'),
        ("night_start: '22:00'\n", "give both night_start and night_end"),
        ("night_start: '25:00'\nnight_end: '07:00'\n", "night_start: must be a time of day"),
        ("driver: neopixel\n", "driver: must be one of none, terminal, single, pwm, rgb"),
        ("fps: 1000\n", "fps: "),
        ("night_start: '22:00'\nnight_end: 7\n", "night_end: "),
        ("driver: rgb\nred_pin: 5\ngreen_pin: 5\n", "three different pins"),
    ],
)
def test_problems_are_one_line_each(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    lines = info.value.problems
    assert len(lines) == 1 and re.search(words, lines[0]), lines


def test_colour_and_time_parsers() -> None:
    assert rgb("#0A0b0C") == (10, 11, 12) and rgb(" Red ") == (255, 0, 0)
    assert minutes_of_day("7:05") == 425
    with pytest.raises(ValueError):
        minutes_of_day("07:60")
    with pytest.raises(ValueError, match="purple"):
        LedColours(tool="nope")
