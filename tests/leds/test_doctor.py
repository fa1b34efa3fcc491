"""`doctor --leds`: every pattern named on the terminal, on the configured driver."""

from __future__ import annotations

import io
import json

from device.leds.doctor import show_every_pattern
from device.leds.patterns import PATTERN_NAMES
from device.leds.settings import LedSettings
from device.leds.spi import Apa102Driver
from tests.leds.fakes import FakeSpi, RecordingDriver


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_every_pattern_for_its_seconds_on_the_driver() -> None:
    out, t, driver = io.StringIO(), FakeTime(), RecordingDriver(led_count=3)
    code = show_every_pattern(
        LedSettings(fps=10), out, 2.0, driver, sleep=t.sleep, clock=t.clock, minute_of_day=600
    )
    assert code == 0
    assert driver.names() == [*PATTERN_NAMES, "stopped"]
    assert len(driver.frames) == len(PATTERN_NAMES) * 20 + 1
    assert t.now == len(PATTERN_NAMES) * 2.0  # two seconds each, on the fake clock
    lines = out.getvalue().splitlines()
    assert lines[0] == "leds: recording driver"
    assert lines[1].startswith("  starting     2 s  shows when: no Ready report yet")
    assert lines[-1] == "leds: 12 patterns shown"
    assert driver.closes == 1


def test_driver_none_draws_on_the_terminal() -> None:
    out, t = io.StringIO(), FakeTime()
    code = show_every_pattern(LedSettings(), out, 0.1, sleep=t.sleep, clock=t.clock)
    text = out.getvalue()
    assert code == 0
    assert "driver is none: drawing the ring on the terminal" in text
    assert "leds   thinking" in text and "leds   stopped" in text


def test_json_variant() -> None:
    out, t = io.StringIO(), FakeTime()
    code = show_every_pattern(
        LedSettings(driver="terminal", fps=5), out, 1.0, as_json=True, sleep=t.sleep,
        clock=t.clock,
    )  # fmt: skip
    report = json.loads(out.getvalue())["leds"]
    assert code == 0
    assert report["driver"] == "terminal"
    assert [p["name"] for p in report["patterns"]] == list(PATTERN_NAMES)
    assert all(p["frames"] == 5 for p in report["patterns"])
    assert len(report["lines"]) == len(PATTERN_NAMES) + 1  # the terminal driver's lines


def test_a_device_that_cannot_be_opened_is_its_problem_and_exit_code_1() -> None:
    ring = Apa102Driver(spi=FakeSpi(fail_open=PermissionError(13, "Permission denied")))
    out = io.StringIO()
    assert show_every_pattern(LedSettings(driver="apa102"), out, 0.1, ring) == 1
    assert "problem: leds: permission denied on /dev/spidev0.1" in out.getvalue()
    out = io.StringIO()
    assert show_every_pattern(LedSettings(driver="apa102"), out, 0.1, ring, as_json=True) == 1
    assert "spi group" in json.loads(out.getvalue())["leds"]["problem"]


def test_a_write_that_fails_is_its_problem() -> None:
    driver = RecordingDriver()
    driver.fail_next_show = True
    out, t = io.StringIO(), FakeTime()
    assert show_every_pattern(LedSettings(), out, 0.1, driver, sleep=t.sleep, clock=t.clock) == 1
    assert "problem: unplugged" in out.getvalue()
    assert driver.closes == 1
