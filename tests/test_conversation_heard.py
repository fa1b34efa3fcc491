"""A reply cut short: the words kept for a restore are about what the caller heard (the
server drops a truncated item's transcript too), whenever the transcript arrives."""

from __future__ import annotations

from device.conversation import (
    Conversation,
    InterruptRequested,
    LinkLost,
    PlaybackStopped,
    SessionReady,
    State,
)
from device.conversation.commands import Send
from device.conversation.replies import heard_prefix
from device.conversation.reports import Note
from device.realtime.commands import AddTextItem
from device.realtime.events import SessionCreated, SessionUpdated, TranscriptDone
from tests.helpers.engine import policy, speaking

WORDS = "one two three four five six seven eight nine ten"


def restored(conv: Conversation) -> list[tuple[str, str]]:
    conv.handle(LinkLost("connection reset", retryable=True), 5000)
    assert conv.state is State.RECONNECTING
    out = conv.handle(SessionReady(restore=True), 5100)
    out += conv.handle(SessionCreated("sess_2"), 5101)
    out += conv.handle(SessionUpdated("sess_2"), 5102)
    return [
        (c.command.role, c.command.text)
        for c in out
        if isinstance(c, Send) and isinstance(c.command, AddTextItem)
    ]


def test_heard_prefix_keeps_whole_words_in_proportion() -> None:
    assert heard_prefix(WORDS, 0.4) == "one two three four"
    assert heard_prefix(WORDS, 0.0) == "" and heard_prefix(WORDS, 1.5) == WORDS


def test_a_cut_reply_is_restored_as_what_was_heard() -> None:
    conv = Conversation(policy())
    speaking(conv)  # 1000 ms of the reply received
    conv.handle(TranscriptDone("resp_1", "item_a1", WORDS), 2900)
    conv.handle(InterruptRequested("the caller (local speech)"), 3000)
    out = conv.handle(PlaybackStopped("local", (("item_a1", 400.0),)), 3001)
    assert [n.text for n in out if isinstance(n, Note)] == [
        'the caller heard about: "one two three four"'
    ]
    assert restored(conv) == [
        ("user", "what are your hours"),
        ("assistant", "one two three four"),
    ]


def test_words_that_come_after_the_cut_are_cut_too() -> None:
    conv = Conversation(policy())
    speaking(conv)
    conv.handle(InterruptRequested("button"), 3000)
    conv.handle(PlaybackStopped("button", (("item_a1", 200.0),)), 3001)
    conv.handle(TranscriptDone("resp_1", "item_a1", WORDS), 3050)  # the cancelled reply's words
    assert restored(conv)[-1] == ("assistant", "one two")
