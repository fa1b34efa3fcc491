"""Push-to-talk state machine: press, hold, release, short and long presses on a fake clock."""

from __future__ import annotations

import pytest

from device.buttons.ptt import (
    ButtonEvent,
    EndConversation,
    Interrupt,
    PttAction,
    PushToTalk,
    Start,
    TalkBegin,
    TalkEnd,
)

P, R, H = ButtonEvent.PRESSED, ButtonEvent.RELEASED, ButtonEvent.HELD


def run(ptt: PushToTalk, script: list[tuple[float, ButtonEvent | None]]) -> list[PttAction]:
    """Events at times; None means the daemon's tick at that time."""
    out: list[PttAction] = []
    for t, event in script:
        out += ptt.tick(t) if event is None else ptt.handle(event, t)
    return out


def test_hold_mode_starts_a_conversation_and_commits_on_release() -> None:
    ptt = PushToTalk("hold")
    assert ptt.handle(P, 1000) == []
    assert ptt.deadline_ms == 1100
    assert ptt.tick(1099) == []
    assert ptt.tick(1100) == [Start(), TalkBegin(pressed_ms=1000)]
    assert ptt.talking
    assert ptt.handle(R, 2600) == [TalkEnd(commit=True, talk_ms=1500)]
    assert ptt.in_conversation and not ptt.talking


def test_a_press_shorter_than_100_ms_does_nothing_at_all() -> None:
    ptt = PushToTalk("hold")
    assert run(ptt, [(0, P), (50, None), (99, R), (400, None)]) == []
    assert not ptt.in_conversation and ptt.deadline_ms is None


def test_a_release_with_under_100_ms_of_audio_commits_nothing() -> None:
    ptt = PushToTalk("hold")
    ptt.set_conversation(True)
    actions = run(ptt, [(0, P), (100, None), (150, R)])
    assert actions == [TalkBegin(pressed_ms=0), TalkEnd(commit=False, talk_ms=50)]


def test_a_release_before_the_tick_still_confirms_a_long_enough_press() -> None:
    ptt = PushToTalk("hold")
    ptt.set_conversation(True)
    assert run(ptt, [(0, P), (500, R)]) == [
        TalkBegin(pressed_ms=0),
        TalkEnd(commit=False, talk_ms=0),
    ]


def test_a_press_while_the_assistant_speaks_interrupts_then_talks() -> None:
    ptt = PushToTalk("hold")
    ptt.set_conversation(True, speaking=True)
    assert run(ptt, [(0, P), (100, None), (900, R)]) == [
        Interrupt(),
        TalkBegin(pressed_ms=0),
        TalkEnd(commit=True, talk_ms=800),
    ]


def test_a_long_press_ends_the_conversation_and_drops_the_turn() -> None:
    ptt = PushToTalk("hold", long_press_ms=3000)
    ptt.set_conversation(True)
    actions = run(ptt, [(0, P), (100, None), (3000, None), (3500, R)])
    assert actions == [
        TalkBegin(pressed_ms=0),
        TalkEnd(commit=False, talk_ms=2900),
        EndConversation(),
    ]
    assert not ptt.in_conversation


def test_gpiozero_held_event_counts_as_the_long_press_once() -> None:
    ptt = PushToTalk("toggle", long_press_ms=2000)
    ptt.set_conversation(True)
    actions = run(ptt, [(0, P), (100, None), (2000, H), (2000, None), (2100, R)])
    assert actions == [EndConversation()]


def test_toggle_mode_press_starts_the_turn_next_press_ends_it() -> None:
    ptt = PushToTalk("toggle")
    first = run(ptt, [(0, P), (100, None), (200, R)])
    assert first == [Start(), TalkBegin(pressed_ms=0)]
    second = run(ptt, [(3000, P), (3100, None), (3200, R)])
    assert second == [TalkEnd(commit=True, talk_ms=3000)]


def test_toggle_mode_interrupts_at_once_and_talks_after_release() -> None:
    ptt = PushToTalk("toggle")
    ptt.set_conversation(True, speaking=True)
    assert run(ptt, [(0, P), (100, None)]) == [Interrupt()]
    assert ptt.handle(R, 300) == [TalkBegin(pressed_ms=0)]


def test_toggle_mode_long_press_during_a_turn_discards_it_and_ends() -> None:
    ptt = PushToTalk("toggle", long_press_ms=2000)
    run(ptt, [(0, P), (100, None), (200, R)])
    actions = run(ptt, [(5000, P), (5100, None), (7000, None), (7500, R)])
    assert actions == [TalkEnd(commit=False, talk_ms=6800), EndConversation()]


def test_a_conversation_that_ends_under_a_held_turn_takes_the_turn_with_it() -> None:
    ptt = PushToTalk("hold")
    run(ptt, [(0, P), (100, None)])
    ptt.set_conversation(False)
    assert ptt.handle(R, 2000) == []


@pytest.mark.parametrize("mode", ["hold", "toggle"])
def test_repeated_pressed_events_are_one_press(mode: str) -> None:
    ptt = PushToTalk(mode)  # type: ignore[arg-type]
    assert run(ptt, [(0, P), (50, P)]) == []
    assert ptt.deadline_ms == 100
