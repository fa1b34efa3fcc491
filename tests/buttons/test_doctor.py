"""`voice-kiosk doctor --button`: edges shown as they happen, on a MockFactory pin."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from tests.helpers import eventually_sync
from tests.helpers.doctor import doctor


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    factory = MockFactory()
    Device.pin_factory = factory
    yield factory
    factory.reset()
    Device.pin_factory = None


@pytest.mark.slow
def test_press_hold_release_are_shown_with_what_push_to_talk_does(
    mock_factory: MockFactory,
) -> None:
    pin = mock_factory.pin(17)
    out = io.StringIO()
    result: list[tuple[int, str]] = []
    runner = threading.Thread(target=lambda: result.append(doctor("--button", "2", out=out)))
    runner.start()
    eventually_sync(lambda: "press it within 2 s" in out.getvalue())  # the button is open
    pin.drive_low()
    eventually_sync(lambda: "TalkBegin" in out.getvalue())  # held past min_press_ms
    time.sleep(0.2)  # and talking for longer than min_talk_ms
    pin.drive_high()
    runner.join(10)
    code, text = result[0]
    assert code == 0, text
    lines = [line.split() for line in text.splitlines() if line.startswith("  ")]
    assert [line[2] for line in lines] == ["pressed", "tick", "released"]
    assert 0.1 <= float(lines[1][0]) - float(lines[0][0]) < 0.2  # min_press_ms
    assert text.count("-> Start, TalkBegin") == 1
    assert "-> TalkEnd(commit=True)" in text
    assert "button on GPIO17: 1 press(es)" in text


def test_with_nothing_pressed_it_runs_out_its_time(mock_factory: MockFactory) -> None:
    started = time.monotonic()
    code, text = doctor("--button", "0.3")
    assert code == 0
    assert 0.3 <= time.monotonic() - started < 3
    assert "GPIO17 (MockFactory, hold mode)" in text and "0 press(es)" in text


def test_bad_seconds_is_a_one_line_usage_error() -> None:
    code, text = doctor("--button", "0")
    assert code == 2 and text.count("\n") == 1 and "--button" in text
