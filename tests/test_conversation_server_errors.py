"""A transient server error is not the end of a visit (issue 26, item 4).

An error that names no event of ours is reported and changes nothing; a ``server_error``
that fails the device's reply request is asked again once after a short back-off, and
only a second failure (or a rate limit, as before) plays ``busy`` and ends the visit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from device.conversation import (
    MAX_TIMER,
    RETRY_TIMER,
    Conversation,
    PlayPrompt,
    SetTimer,
    State,
    TimerFired,
    ToolFinished,
)
from device.conversation.reports import ConversationEnded, ErrorReported, Outcome
from device.realtime.commands import RequestReply, SendToolOutput
from device.realtime.events import (
    AudioDelta,
    ErrorKind,
    ResponseCreated,
    ResponseDone,
    ServerError,
    Severity,
)
from tests.helpers.engine import (
    CALL,
    CALLER_ASKS,
    OPEN,
    PCM,
    acts,
    policy,
    reports,
    run,
    sent,
    speaking,
    tool_result,
)


def server_error(names: str | None = None) -> ServerError:
    return ServerError(
        ErrorKind.SERVER, Severity.HARMLESS, "server_error", "try again", client_event_id=names
    )


def asked_for_a_reply(conv: Conversation) -> tuple[RequestReply, SendToolOutput]:
    """A tool's output went back and the device asked for the reply (THINKING)."""
    run(conv, OPEN + CALLER_ASKS)
    conv.handle(CALL, 2800)
    conv.handle(ResponseDone("resp_1", "completed"), 2900)
    out = conv.handle(ToolFinished("call_1", tool_result()), 3000)
    [ours], [output] = sent(out, RequestReply), sent(out, SendToolOutput)
    assert conv.state is State.THINKING
    return ours, output


def ended(out: list[Any]) -> list[Outcome]:
    return [r.outcome for r in reports(out, ConversationEnded)]


def test_a_server_error_naming_nothing_mid_reply_changes_nothing_but_a_report() -> None:
    conv = Conversation(policy())
    speaking(conv)
    out = conv.handle(server_error(), 3000)
    assert out == [ErrorReported("server_error", "try again")]
    assert conv.state is State.SPEAKING and conv.active
    # the reply goes on as if nothing happened
    assert acts(conv.handle(AudioDelta("resp_1", "item_a1", 0, PCM), 3010))[-1] == "play item_a1"


def test_a_server_error_naming_another_command_of_ours_is_only_reported() -> None:
    conv = Conversation(policy())
    _, output = asked_for_a_reply(conv)
    out = conv.handle(server_error(output.event_id), 3050)
    assert out == [ErrorReported("server_error", "try again")]
    assert conv.state is State.THINKING


def test_a_failed_reply_request_is_asked_again_once_after_the_back_off() -> None:
    conv = Conversation(dataclasses.replace(policy(), server_error_retry_ms=500.0))
    ours, _ = asked_for_a_reply(conv)
    out = conv.handle(server_error(ours.event_id), 3050)
    assert acts(out) == [f"set {RETRY_TIMER}"] and SetTimer(RETRY_TIMER, 500.0) in out
    assert reports(out, ErrorReported) == [ErrorReported("server_error", "try again")]
    assert PlayPrompt("busy") not in out and conv.state is State.THINKING
    out = conv.handle(TimerFired(RETRY_TIMER), 3550)
    [again] = sent(out, RequestReply)
    assert acts(out) == ["send RequestReply"] and again.event_id != ours.event_id
    assert conv.state is State.THINKING
    # the retry is answered: the conversation goes on as usual
    conv.handle(ResponseCreated("resp_2"), 3600)
    assert acts(conv.handle(AudioDelta("resp_2", "item_a2", 0, PCM), 3650))[-1] == "play item_a2"
    assert conv.state is State.SPEAKING


def test_a_second_failure_of_the_reply_request_says_busy_and_ends_the_visit() -> None:
    conv = Conversation(policy())
    ours, _ = asked_for_a_reply(conv)
    conv.handle(server_error(ours.event_id), 3050)
    [again] = sent(conv.handle(TimerFired(RETRY_TIMER), 3550), RequestReply)
    out = conv.handle(server_error(again.event_id), 3600)
    assert PlayPrompt("busy") in out
    assert [r.code for r in reports(out, ErrorReported)] == ["server_error", "busy"]
    assert ended(out) == [Outcome.BUSY]
    assert conv.state is State.IDLE and not conv.active


def test_a_rate_limit_still_says_busy_at_once() -> None:
    conv = Conversation(policy())
    speaking(conv)
    limited = ServerError(
        ErrorKind.RATE_LIMITED, Severity.HARMLESS, "rate_limit_exceeded", "slow down"
    )
    out = conv.handle(limited, 3000)
    assert PlayPrompt("busy") in out and ended(out) == [Outcome.BUSY]
    assert conv.state is State.IDLE


def test_a_reply_that_came_after_a_retry_makes_the_next_failure_a_first_again() -> None:
    conv = Conversation(policy())
    ours, _ = asked_for_a_reply(conv)
    conv.handle(server_error(ours.event_id), 3050)
    conv.handle(TimerFired(RETRY_TIMER), 3550)
    conv.handle(ResponseCreated("resp_2"), 3600)
    conv.handle(ResponseDone("resp_2", "completed"), 3700)
    # the next tool call's reply request fails: asked again, not busy
    conv.handle(dataclasses.replace(CALL, response_id="resp_2", call_id="call_2"), 3710)
    out = conv.handle(ToolFinished("call_2", tool_result()), 3800)
    [later] = sent(out, RequestReply)
    out = conv.handle(server_error(later.event_id), 3850)
    assert acts(out) == [f"set {RETRY_TIMER}"] and conv.active


def test_a_retry_no_longer_wanted_sends_nothing() -> None:
    """A response came meanwhile (the server answered after all), or the visit ended."""
    conv = Conversation(policy())
    ours, _ = asked_for_a_reply(conv)
    conv.handle(server_error(ours.event_id), 3050)
    conv.handle(ResponseCreated("resp_2"), 3100)
    assert acts(conv.handle(TimerFired(RETRY_TIMER), 3550)) == []
    conv = Conversation(policy())
    ours, _ = asked_for_a_reply(conv)
    conv.handle(server_error(ours.event_id), 3050)
    conv.handle(TimerFired(MAX_TIMER), 3100)  # the visit ends
    assert conv.handle(TimerFired(RETRY_TIMER), 3550) == []


def test_the_server_error_naming_an_unknown_event_changes_nothing_sent() -> None:
    conv = Conversation(policy())
    asked_for_a_reply(conv)
    out = conv.handle(server_error("evt_not_ours"), 3050)
    assert out == [ErrorReported("server_error", "try again")]
    assert conv.handle(TimerFired(RETRY_TIMER), 3550) == []
