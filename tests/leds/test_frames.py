"""FrameMaker on a fake clock: the frame grid, its cache, and when the next frame is due."""

from __future__ import annotations

import math
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


def test_a_blink_is_due_at_its_next_change_not_at_every_frame() -> None:
    m, state = maker()
    state.report(0.0, StateChanged(State.IDLE, State.ERROR))  # on 500 ms, off 500 ms
    m.changed()
    on, due = m.compose(0.0)
    assert on.name == "error" and due == pytest.approx(15 * FRAME_MS)
    off, due = m.compose(15 * FRAME_MS)
    assert off.pixels == ((0, 0, 0),) * 12 and due == pytest.approx(30 * FRAME_MS)
    again, due = m.compose(31 * FRAME_MS)  # a turn later, mid-flash: due when it ends
    assert again.pixels == on.pixels and due == pytest.approx(45 * FRAME_MS)


def test_a_double_blink_is_due_at_its_four_changes_a_period() -> None:
    m, state = maker()
    state.report(0.0, StateChanged(State.IDLE, State.HANDOVER))  # 150 on, 150 off, 150 on
    m.changed()
    steps, k = [], 0
    while k < 42:  # a period of 1.4 s: 42 frames
        _, due = m.compose(k * FRAME_MS)
        assert due is not None
        k = round(due / FRAME_MS)
        steps.append(k)
    assert steps == [5, 9, 14, 42]


def test_a_repeating_pattern_is_one_cycle_of_frames_equal_ones_shared() -> None:
    m, state = maker()
    state.report(0.0, StateChanged(State.IDLE, State.SPEAKING))  # a pulse: up, then down
    m.changed()
    m.compose(0.0)
    run = m.ahead(0.0)
    assert run is not None and (run.k, len(run.frames)) == (0, 27)  # 0.9 s at 30 fps
    assert len({id(f) for f in run.frames}) == len({f.pixels for f in run.frames}) < 27
    for i, frame in enumerate(run.frames):  # the next different frame, every step
        j = (i + run.steps[i]) % 27
        assert run.frames[j].pixels != frame.pixels
        assert all(run.frames[(i + s) % 27] is frame for s in range(run.steps[i]))
    frame, due = m.compose(40 * FRAME_MS)  # from the cycle, once made
    assert frame is run.frames[40 % 27] and due == pytest.approx((40 + run.steps[13]) * FRAME_MS)


def test_ahead_is_only_for_a_repeating_pattern() -> None:
    m, state = maker(wake_flash_ms=400)
    m.compose(0.0)
    assert m.ahead(0.0) is None  # idle: still
    state.report(10.0, ConversationStarted("conv-1", "button"))
    m.changed()
    m.compose(10.0)
    assert m.ahead(10.0) is None  # the wake flash: it fades once
    state.report(20.0, StateChanged(State.IDLE, State.THINKING))
    m.changed()
    m.compose(500.0)
    run = m.ahead(500.0)
    assert run is not None and run.lapse_ms == math.inf and run.look_ms == math.inf


def test_a_moving_pattern_in_one_colour_throughout_is_still() -> None:
    s = LedSettings()
    state = LedState(wake_flash_ms=0, handover_show_ms=0)
    patterns = build_patterns(LedColours(error="off"), wake_flash_ms=0)
    m = FrameMaker(state, threading.Lock(), patterns, s, led_count=12, local_minutes=lambda: 0)
    state.report(0.0, StateChanged(State.IDLE, State.ERROR))
    m.compose(0.0)
    assert m.ahead(0.0) is None  # its cycle made: all dark
    frame, due = m.compose(FRAME_MS)
    assert (frame.name, due) == ("error", None)


def test_with_a_night_schedule_a_still_pattern_is_due_a_second_later() -> None:
    m, _ = maker(night_start="22:00", night_end="07:00")
    assert m.compose(5.0)[1] == 1005.0
    m2, state = maker(night_start="22:00", night_end="07:00")
    state.report(0.0, StateChanged(State.IDLE, State.THINKING))
    m2.changed()
    m2.compose(0.0)
    run = m2.ahead(0.0)
    assert run is not None and run.look_ms == 1000.0  # handed back at the change from then
