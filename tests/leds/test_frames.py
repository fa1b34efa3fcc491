"""FrameMaker on a fake clock: the frame grid, its cache, and when the next frame is due."""

from __future__ import annotations

import threading

import pytest

from device.conversation.reports import ConversationStarted, Ready, StateChanged
from device.conversation.state import State
from device.leds.arbiter import LedState
from device.leds.frames import FrameMaker
from device.leds.patterns import build_patterns
from device.leds.settings import LedColours, LedSettings

FRAME_MS = 1000.0 / 30


def maker(**settings: object) -> tuple[FrameMaker, LedState]:
    s = LedSettings(**settings)  # type: ignore[arg-type]
    state = LedState(wake_flash_ms=s.wake_flash_ms, handover_show_ms=60_000)
    patterns = build_patterns(LedColours(), wake_flash_ms=s.wake_flash_ms)
    m = FrameMaker(state, threading.Lock(), patterns, s, led_count=12, local_minutes=lambda: 600)
    state.report(0.0, Ready(after_ms=0.0, standby=True, offline=False))
    return m, state


def test_a_still_pattern_is_one_frame_with_nothing_due() -> None:
    m, _ = maker()
    frame, due = m.compose(5.0)
    assert (frame.name, due) == ("idle", None)
    assert m.compose(500.0)[0] is frame  # the same frame until something changes


def test_a_moving_pattern_runs_on_a_grid_and_repeats_its_frames() -> None:
    m, state = maker()
    state.report(100.0, StateChanged(State.IDLE, State.THINKING))
    m.changed()
    first, due = m.compose(100.0)
    assert (first.name, first.t_ms, due) == ("thinking", 100.0, pytest.approx(100.0 + FRAME_MS))
    second, due = m.compose(100.0 + FRAME_MS - 1.0)  # woken a little early: frame 1 anyway
    assert due == pytest.approx(100.0 + 2 * FRAME_MS)
    assert second.pixels != first.pixels
    again, _ = m.compose(100.0 + 31 * FRAME_MS)  # a turn (30 frames) later: frame 1 again
    assert again is second
    late, due = m.compose(100.0 + 40.2 * FRAME_MS)  # a slow write: frames skipped, on the grid
    assert due == pytest.approx(100.0 + 41 * FRAME_MS)
    assert late.pixels == m.patterns["thinking"].pixels(10 * FRAME_MS, 12)


def test_a_change_is_seen_at_the_next_compose_and_a_timed_lapse_is_due() -> None:
    m, state = maker(wake_flash_ms=400)
    assert m.compose(0.0)[0].name == "idle"
    state.report(10.0, ConversationStarted("conv-1", "button"))
    state.report(10.0, StateChanged(State.IDLE, State.LISTENING))
    m.changed()
    frame, due = m.compose(12.0)
    assert frame.name == "wake" and due == pytest.approx(12.0 + FRAME_MS)
    frame, due = m.compose(400.0)
    assert frame.name == "wake" and due == 410.0  # the flash ends before the next frame
    frame, due = m.compose(410.0)
    assert (frame.name, due) == ("listening", None)


def test_the_night_schedule_is_looked_at_once_a_second() -> None:
    minute = [600.0]
    s = LedSettings(night_start="22:00", night_end="07:00")
    state = LedState(wake_flash_ms=0, handover_show_ms=0)
    patterns = build_patterns(LedColours(), wake_flash_ms=0)
    m = FrameMaker(
        state, threading.Lock(), patterns, s, led_count=3, local_minutes=lambda: minute[0]
    )
    assert m.compose(0.0)[0].brightness == 0.5
    minute[0] = 23 * 60
    assert m.compose(999.0)[0].brightness == 0.5
    assert m.compose(1000.0)[0].brightness == 0.1
