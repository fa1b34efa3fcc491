"""The arbiter: what the daemon knows -> one pattern, by the priority table (docs/leds.md)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from device.conversation.reports import (
    AudioDeviceChanged,
    ConversationEnded,
    ConversationStarted,
    HandedOver,
    Interrupted,
    Note,
    Outcome,
    Ready,
    StateChanged,
)
from device.conversation.state import State
from device.leds.arbiter import PRIORITY, LedInputs, LedState, Showing, choose
from device.leds.patterns import PATTERN_NAMES

DOCS = Path(__file__).resolve().parents[2] / "docs/leds.md"
READY = LedInputs(ready=True)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (LedInputs(), "starting"),
        (READY, "idle"),
        (replace(READY, state=State.CONNECTING), "thinking"),
        (replace(READY, state=State.LISTENING), "listening"),
        (replace(READY, state=State.LISTENING, echo_held=True), "speaking"),
        (replace(READY, state=State.THINKING), "thinking"),
        (replace(READY, state=State.SPEAKING), "speaking"),
        (replace(READY, state=State.TOOL), "tool"),
        (replace(READY, state=State.HANDOVER), "handover"),
        (replace(READY, state=State.RECONNECTING), "reconnecting"),
        (replace(READY, state=State.OFFLINE), "offline"),
        (replace(READY, link_offline=True), "offline"),
        (replace(READY, state=State.ERROR), "error"),
        (replace(READY, audio_problem=True), "error"),
        (replace(READY, muted=True), "muted"),
        # error and muted over everything
        (replace(READY, state=State.SPEAKING, muted=True), "muted"),
        (LedInputs(muted=True), "muted"),
        (replace(READY, muted=True, audio_problem=True, waking=True), "error"),
        # the wake flash over a conversation's first state
        (replace(READY, state=State.CONNECTING, waking=True), "wake"),
        # a hand-over waiting: over offline and idle, under a conversation
        (replace(READY, handover_waiting=True), "handover"),
        (replace(READY, state=State.OFFLINE, handover_waiting=True), "handover"),
        (replace(READY, state=State.LISTENING, handover_waiting=True), "listening"),
        # a conversation over start-up, start-up over offline
        (LedInputs(state=State.LISTENING), "listening"),
        (LedInputs(state=State.OFFLINE), "starting"),
    ],
)
def test_priority(inputs: LedInputs, expected: str) -> None:
    assert choose(inputs) == expected


def test_every_row_names_a_pattern_and_every_pattern_can_show() -> None:
    assert {name for name, _, _ in PRIORITY} == set(PATTERN_NAMES)
    assert PRIORITY[0][0] == "error" and PRIORITY[1][0] == "muted"
    assert PRIORITY[-1][0] == "idle"


def test_docs_table_is_the_priority_table() -> None:
    rows = re.findall(r"^\| *(\d+) *\| *`(\w+)` *\|", DOCS.read_text(), re.MULTILINE)
    assert [(int(n), name) for n, name in rows] == [
        (i, name) for i, (name, _, _) in enumerate(PRIORITY, start=1)
    ]


def machine() -> LedState:
    return LedState(wake_flash_ms=400, handover_show_ms=60_000)


def test_a_conversation_on_a_fake_clock() -> None:
    s = machine()
    assert s.showing(0.0) == Showing("starting", 0.0)
    assert s.report(900.0, Ready(after_ms=900.0, standby=True, offline=False))
    assert s.showing(900.0) == Showing("idle", 900.0)
    s.report(1000.0, ConversationStarted("conv-1", "wake word hey_jarvis"))
    s.report(1000.0, StateChanged(State.IDLE, State.CONNECTING))
    assert s.showing(1001.0) == Showing("wake", 1001.0)
    assert s.next_change_ms(1001.0) == 1400.0
    assert s.showing(1399.0).name == "wake"
    assert s.showing(1400.0) == Showing("thinking", 1400.0)
    s.report(1500.0, StateChanged(State.CONNECTING, State.LISTENING))
    assert s.showing(1500.0).name == "listening"
    s.report(2500.0, StateChanged(State.LISTENING, State.THINKING))
    s.report(3000.0, StateChanged(State.THINKING, State.SPEAKING))
    assert s.showing(3000.0).name == "speaking"
    s.report(3100.0, Interrupted("button", 1, "item-1", 100))
    assert s.showing(3100.0).name == "wake"  # heard you
    s.report(3200.0, StateChanged(State.SPEAKING, State.LISTENING))
    assert s.showing(3600.0).name == "listening"
    s.report(9000.0, ConversationEnded("goodbye", outcome=Outcome.GOODBYE))
    s.report(9000.0, StateChanged(State.LISTENING, State.IDLE))
    assert s.showing(9000.0).name == "idle"
    assert s.next_change_ms(9000.0) is None


def test_start_up_and_vad_sources_do_not_flash() -> None:
    s = machine()
    s.report(0.0, Ready(after_ms=0.0, standby=True, offline=False))
    s.report(10.0, ConversationStarted("conv-1", "start-up"))
    s.report(10.0, StateChanged(State.IDLE, State.CONNECTING))
    assert s.showing(11.0).name == "thinking"
    s.report(20.0, Interrupted("local vad", 1, None, None))
    assert s.showing(21.0).name == "thinking"


def test_no_flash_when_wake_flash_ms_is_zero() -> None:
    s = LedState(wake_flash_ms=0, handover_show_ms=0)
    s.report(0.0, Ready(after_ms=0.0, standby=True, offline=False))
    s.report(10.0, ConversationStarted("conv-1", "button"))
    assert s.showing(10.0).name == "idle"


def test_a_hand_over_shows_after_the_visit_until_its_time_or_the_next_wake() -> None:
    s = machine()
    s.report(0.0, Ready(after_ms=0.0, standby=True, offline=True))
    assert s.showing(0.0).name == "offline"
    s.report(10.0, StateChanged(State.OFFLINE, State.IDLE))
    s.report(100.0, ConversationStarted("conv-1", "button"))
    s.report(5000.0, HandedOver("call_staff"))
    s.report(5000.0, StateChanged(State.LISTENING, State.HANDOVER))
    assert s.showing(5000.0).name == "handover"
    s.report(8000.0, StateChanged(State.HANDOVER, State.SPEAKING))
    assert s.showing(8000.0).name == "speaking"  # the conversation goes on
    s.report(9000.0, ConversationEnded("goodbye", outcome=Outcome.GOODBYE))
    s.report(9000.0, StateChanged(State.SPEAKING, State.IDLE))
    assert s.showing(9000.0) == Showing("handover", 9000.0)
    assert s.next_change_ms(9000.0) == 69_000.0  # handover_show_ms from the end
    assert s.showing(68_999.0).name == "handover"
    assert s.showing(69_000.0).name == "idle"
    s.report(70_000.0, ConversationEnded("x", outcome=Outcome.HANDED_OVER))
    assert s.showing(70_000.0).name == "handover"
    s.report(71_000.0, ConversationStarted("conv-2", "button"))  # the next visitor
    assert s.showing(71_500.0).name == "idle"


def test_offline_muted_echo_and_audio_device() -> None:
    s = machine()
    s.report(0.0, Ready(after_ms=0.0, standby=False, offline=True))
    assert s.showing(0.0).name == "offline"
    s.report(10.0, StateChanged(State.IDLE, State.OFFLINE))
    s.report(20.0, StateChanged(State.OFFLINE, State.IDLE))
    assert s.showing(20.0).name == "idle"
    s.set_muted(True)
    assert s.showing(30.0).name == "muted"
    s.set_muted(False)
    s.report(40.0, StateChanged(State.IDLE, State.LISTENING))
    s.set_echo_held(True)
    assert s.showing(40.0).name == "speaking"
    s.set_echo_held(False)
    assert s.showing(41.0).name == "listening"
    assert s.report(50.0, AudioDeviceChanged(ok=False, message="microphone gone"))
    assert s.showing(50.0).name == "error"
    s.report(60.0, AudioDeviceChanged(ok=True, message="microphone back"))
    assert s.showing(60.0).name == "listening"


def test_reports_that_change_nothing_say_so() -> None:
    assert not machine().report(0.0, Note("hello"))


def test_showing_keeps_its_start_while_the_pattern_stays() -> None:
    s = machine()
    s.report(0.0, Ready(after_ms=0.0, standby=True, offline=False))
    s.report(0.0, StateChanged(State.IDLE, State.THINKING))
    assert s.showing(100.0) == Showing("thinking", 100.0)
    s.report(200.0, StateChanged(State.THINKING, State.CONNECTING))
    assert s.showing(300.0) == Showing("thinking", 100.0)  # same pattern: the spin goes on
