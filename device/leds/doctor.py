"""`voice-kiosk doctor --leds`: every pattern for two seconds, named on the terminal.

Opens the configured LED driver (``driver: none`` draws on the terminal instead) and plays
each pattern of `PATTERN_NAMES` in turn, at ``fps``, printing its name and when it shows;
then the 'service stopped' colour. A device that cannot be opened is its one-line problem
and exit code 1. ``as_json``: one JSON object instead of the lines.

Example::

    code = show_every_pattern(settings.leds, sys.stdout)   # 0: shown, 1: a problem
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any, TextIO

from device.leds.arbiter import PRIORITY
from device.leds.driver import Driver, DriverUnavailable, first_line
from device.leds.factory import make_driver
from device.leds.patterns import PATTERN_NAMES, Frame, brightness_at, build_patterns
from device.leds.settings import LedSettings
from device.leds.terminal import TerminalDriver


def _when(name: str) -> str:
    return next(when for pattern, when, _ in PRIORITY if pattern == name)


def show_every_pattern(
    settings: LedSettings,
    out: TextIO,
    seconds: float = 2.0,
    driver: Driver | None = None,
    *,
    as_json: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    minute_of_day: float | None = None,
) -> int:
    """Show every pattern for ``seconds`` each on ``driver`` (None: the configured one);
    0 when all were shown, 1 when the device could not be opened or written."""
    screen = io.StringIO() if as_json else out
    note = None
    if driver is None:
        driver = make_driver(settings, out=screen)
    if driver is None:
        driver = TerminalDriver(screen, led_count=settings.led_count)
        note = "driver is none: drawing the ring on the terminal"
    report: dict[str, Any] = {"driver": driver.label, "patterns": []}
    if note:
        report["note"] = note

    def say(line: str) -> None:
        if not as_json:
            out.write(line + "\n")
            out.flush()

    def finish(code: int) -> int:
        if as_json:
            if isinstance(screen, io.StringIO) and screen.getvalue():
                report["lines"] = screen.getvalue().splitlines()
            json.dump({"leds": report}, out, ensure_ascii=False)
            out.write("\n")
        return code

    say(f"leds: {driver.label}" + (f" ({note})" if note else ""))
    try:
        driver.open()
    except Exception as exc:
        report["problem"] = str(exc) if isinstance(exc, DriverUnavailable) else first_line(exc)
        say(f"  problem: {report['problem']}")
        return finish(1)
    patterns = build_patterns(settings.colours, wake_flash_ms=settings.wake_flash_ms)
    if minute_of_day is None:
        t = time.localtime()
        minute_of_day = t.tm_hour * 60 + t.tm_min
    brightness = brightness_at(settings, minute_of_day)
    frames = max(1, round(seconds * settings.fps))
    period_s = 1.0 / settings.fps
    start = clock()
    try:
        for name in PATTERN_NAMES:
            say(f"  {name:<12} {seconds:g} s  shows when: {_when(name)}")
            worst_ms = 0.0
            began = clock()
            for k in range(frames):
                t_ms = k * period_s * 1000.0
                frame = Frame(
                    name,
                    patterns[name].pixels(t_ms, driver.led_count),
                    brightness,
                    (clock() - start) * 1000.0,
                )
                before = clock()
                driver.show(frame)
                worst_ms = max(worst_ms, (clock() - before) * 1000.0)
                due = began + (k + 1) * period_s
                sleep(max(0.0, due - clock()))
            report["patterns"].append(
                {"name": name, "frames": frames, "max_write_ms": round(worst_ms, 2)}
            )
        dark = settings.stopped_rgb
        stopped = Frame("stopped", (dark,) * driver.led_count, brightness, 0.0)
        driver.show(stopped)
    except Exception as exc:
        report["problem"] = str(exc) if isinstance(exc, DriverUnavailable) else first_line(exc)
        say(f"  problem: {report['problem']}")
        return finish(1)
    finally:
        driver.close()
    say(f"leds: {len(PATTERN_NAMES)} patterns shown")
    return finish(0)
