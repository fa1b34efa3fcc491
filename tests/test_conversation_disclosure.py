"""Disclosure and consent in the engine: the disclosure said as each conversation starts
(never delaying the session or the upload), the consent question answered by the caller's
first words (yes, no, neither), the caller's turn answered all the same; off when not set.
"""

from __future__ import annotations

import dataclasses

import pytest

from device.conversation import (
    IDLE_TIMER,
    MAX_TIMER,
    Conversation,
    ConversationPolicy,
    DeviceHealth,
    PlayPrompt,
    StartRequested,
    State,
    StopRequested,
)
from device.conversation.disclosure import AI_TRUTH, UNCLEAR, ConsentRule, instructions
from device.conversation.reports import CallerSaid, ConsentAnswered
from device.realtime.events import (
    InputTranscript,
    InputTranscriptFailed,
    ResponseCreated,
    SessionCreated,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
)
from device.tools.settings import DEFAULT_NO_WORDS, DEFAULT_YES_WORDS
from tests.helpers.engine import OPEN, Step, acts, policy, reports, run

RULE = ConsentRule.of(DEFAULT_YES_WORDS, DEFAULT_NO_WORDS)


def with_(*, disclosure: bool = False, consent: ConsentRule | None = None) -> ConversationPolicy:
    return dataclasses.replace(policy(), disclosure=disclosure, consent=consent)


def opened(p: ConversationPolicy, prompts: list[str]) -> list[Step]:
    """OPEN with the prompts said right after the session is asked for (and its deadline)."""
    start, created, updated = OPEN
    said = [f"prompt {name}" for name in prompts]
    return [
        Step(start.event, State.CONNECTING, ["connect", f"set {MAX_TIMER}", *said]),
        created,
        updated,
    ]


def turn(text: str | None, n: int = 1, at: int = 1000) -> list[Step]:
    """The caller's turn ``n`` and its words (None: they could not be transcribed)."""
    item = f"item_u{n}"
    words = InputTranscript(item, text) if text is not None else InputTranscriptFailed(item, "bad")
    return [
        Step(SpeechStarted(item, at), State.LISTENING, ["hold on", f"cancel {IDLE_TIMER}"], at),
        Step(SpeechStopped(item, at + 1500), State.THINKING, ["hold off"], at + 1500),
        Step(words, State.THINKING, [], at + 1600),
    ]


def test_the_disclosure_is_said_at_once_and_delays_neither_connect_nor_upload() -> None:
    p = with_(disclosure=True)
    conv = Conversation(p)
    outs = run(conv, opened(p, ["disclosure"]))
    start = outs[0]
    commands = [c for c in start if isinstance(c, PlayPrompt)]
    assert commands == [PlayPrompt("disclosure")]
    # the session is asked for first; the prompt is only queued on the speaker
    assert acts(start).index("connect") < acts(start).index("prompt disclosure")
    # the upload starts the moment the session is set up, as without the disclosure
    plain = Conversation(policy())
    plain_outs = run(plain, OPEN)
    assert acts(outs[2]) == acts(plain_outs[2]) == ["upload on", f"set {IDLE_TIMER}"]
    assert [acts(o) for o in outs[1:]] == [acts(o) for o in plain_outs[1:]]
    assert reports(start, ConsentAnswered) == []


def test_the_caller_may_talk_over_the_disclosure_and_is_answered() -> None:
    conv = Conversation(with_(disclosure=True))
    start = conv.handle(StartRequested("wake word"), 0.0)
    assert PlayPrompt("disclosure") in start
    conv.handle(SessionCreated("sess_1"), 5.0)
    conv.handle(SessionUpdated("sess_1"), 10.0)
    # the caller speaks at 200 ms, the disclosure still playing: heard, answered
    run(conv, turn("what are your hours", at=200))
    out = conv.handle(ResponseCreated("resp_1"), 1900.0)
    assert conv.state is State.THINKING and reports(out, ConsentAnswered) == []


def test_off_when_not_configured() -> None:
    conv = Conversation(policy())
    outs = run(conv, [*OPEN, *turn("yes please")])
    assert not any(isinstance(c, PlayPrompt) for out in outs for c in out)
    assert not any(reports(out, ConsentAnswered) for out in outs)
    assert conv.visitor.consent.asked is False


@pytest.mark.parametrize(
    ("said", "answer"),
    [
        ("Yes, that's fine.", ConsentAnswered(True, "caller")),
        ("okay go ahead, and what are your hours?", ConsentAnswered(True, "caller")),
        ("No thanks.", ConsentAnswered(False, "caller")),
        ("yes... no, wait, I'd rather not", ConsentAnswered(False, "caller")),  # a no wins
        ("What are your opening hours?", ConsentAnswered(False, UNCLEAR)),
        (None, ConsentAnswered(False, UNCLEAR)),  # the words could not be transcribed
    ],
)
def test_the_callers_first_words_answer_the_consent_question(
    said: str | None, answer: ConsentAnswered
) -> None:
    p = with_(disclosure=True, consent=RULE)
    conv = Conversation(p)
    run(conv, opened(p, ["disclosure", "consent"]))
    assert conv.visitor.consent.awaited
    outs = run(conv, turn(said))
    words = outs[-1]
    assert reports(words, ConsentAnswered) == [answer]
    if said is not None:  # the turn is the caller's all the same: kept and answered
        assert reports(words, CallerSaid) == [CallerSaid(said)]
        assert conv.transcript == [("user", said)]
    # the model is asked for its reply as for any turn (server turn detection answers)
    assert conv.state is State.THINKING
    # a second turn answers nothing
    later = run(conv, [Step(ResponseCreated("resp_1"), State.THINKING, [], 2700)])
    assert reports(later[-1], ConsentAnswered) == []


def test_only_the_first_words_answer_and_only_once() -> None:
    p = with_(consent=RULE)
    conv = Conversation(p)
    run(conv, opened(p, ["consent"]))  # consent without the disclosure: asked alone
    first = run(conv, turn("hmm, sorry?"))
    assert reports(first[-1], ConsentAnswered) == [ConsentAnswered(False, UNCLEAR)]
    conv.handle(ResponseCreated("resp_1"), 2700.0)
    conv.state = State.LISTENING  # (the reply played out)
    second = conv.handle(SpeechStarted("item_u2", 5000), 5000.0)
    second += conv.handle(SpeechStopped("item_u2", 6000), 6000.0)
    second += conv.handle(InputTranscript("item_u2", "yes"), 6100.0)
    assert reports(second, ConsentAnswered) == []
    assert conv.visitor.consent.answered


def test_each_visitor_is_asked_anew() -> None:
    p = with_(disclosure=True, consent=RULE)
    conv = Conversation(p)
    run(conv, [*opened(p, ["disclosure", "consent"]), *turn("yes")])
    conv.handle(StopRequested("done"), 4000.0)
    again = conv.handle(StartRequested("button"), 5000.0)
    assert [c for c in again if isinstance(c, PlayPrompt)] == [
        PlayPrompt("disclosure"),
        PlayPrompt("consent"),
    ]
    assert conv.visitor.consent.awaited  # a new visitor: a new question


def test_a_refused_visitor_hears_no_disclosure() -> None:
    conv = Conversation(with_(disclosure=True, consent=RULE))
    conv.handle(DeviceHealth(False, "no microphone"), 0.0)
    out = conv.handle(StartRequested("button"), 10.0)
    assert not any(isinstance(c, PlayPrompt) for c in out) and not conv.active
    assert conv.visitor.consent.asked is False


def test_the_instructions_always_say_the_model_is_an_ai() -> None:
    assert instructions(None, None) == AI_TRUTH
    assert "truthfully" in AI_TRUTH and "never claim" in AI_TRUTH
    text = instructions("Hello, I'm an  automated\nassistant.", "May I record? Yes or no.")
    lines = text.splitlines()
    assert lines[0] == AI_TRUTH and len(lines) == 3
    assert '"Hello, I\'m an automated assistant."' in lines[1]
    assert '"May I record? Yes or no."' in lines[2] and "never ask" in lines[2]
    assert instructions("  ", None) == AI_TRUTH
