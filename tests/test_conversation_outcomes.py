"""Every way a conversation ends says how, in `ConversationEnded.outcome` (metrics count by it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from device.conversation import (
    IDLE_TIMER,
    MAX_TIMER,
    SETUP_TIMER,
    Conversation,
    DeviceHealth,
    Event,
    LinkLost,
    LinkStatus,
    PlaybackIdle,
    ReconnectFailed,
    StartRequested,
    State,
    StopRequested,
    TimerFired,
    ToolFinished,
)
from device.conversation.reports import ConversationEnded, Outcome
from device.realtime.events import (
    ErrorKind,
    RateLimits,
    ResponseDone,
    ServerError,
    Severity,
)
from device.tools.base import ToolAction, ToolResult
from tests.helpers.engine import CALL, CALLER_ASKS, OPEN, Step, policy, run

SHUTDOWN = StopRequested("shutting down", Outcome.SHUTDOWN)


def ended(conv: Conversation, events: list[Event], now_ms: float = 5000.0) -> list[Outcome]:
    outs = [conv.handle(event, now_ms + i) for i, event in enumerate(events)]
    return [r.outcome for out in outs for r in out if isinstance(r, ConversationEnded)]


def talking() -> Conversation:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    return conv


def connecting() -> Conversation:
    conv = Conversation(policy())
    run(conv, OPEN[:1])
    return conv


def listening() -> Conversation:
    conv = Conversation(policy())
    run(conv, OPEN)
    return conv


def no_reconnect() -> Conversation:
    conv = Conversation(dataclasses.replace(policy(), reconnect=False))
    run(conv, OPEN + CALLER_ASKS)
    return conv


def offline_visitor() -> Conversation:
    conv = Conversation(policy())
    conv.handle(LinkStatus(False, "connection refused", "network"), 0.0)
    conv.handle(StartRequested("wake word"), 1000.0)
    return conv


def reconnecting() -> Conversation:
    conv = talking()
    conv.handle(LinkLost("connection reset", retryable=True), 3000.0)
    assert conv.state is State.RECONNECTING
    return conv


def tool_ends(action: ToolAction) -> list[Event]:
    result = ToolResult(output="{}", ok=True, ms=10.0, action=action)
    return [CALL, ResponseDone("resp_1", "completed"), ToolFinished("call_1", result)]


def error(kind: ErrorKind, severity: Severity, code: str) -> ServerError:
    return ServerError(kind, severity, code, "details")


CASES = [
    ("a long press", talking, [StopRequested("ended with a long press")], Outcome.ENDED_BY_CALLER),
    ("the daemon stops", talking, [SHUTDOWN], Outcome.SHUTDOWN),
    ("nobody spoke", listening, [TimerFired(IDLE_TIMER)], Outcome.NOBODY_SPOKE),
    ("maximum length", talking, [TimerFired(MAX_TIMER)], Outcome.TIMED_OUT),
    ("goodbye", talking, [*tool_ends(ToolAction.END), PlaybackIdle()], Outcome.GOODBYE),
    (
        "handed over, hung up",
        talking,
        [*tool_ends(ToolAction.HANDOVER_END), PlaybackIdle()],
        Outcome.HANDED_OVER,
    ),
    (
        "handed over, then quiet",
        talking,
        [
            *tool_ends(ToolAction.HANDOVER_HOLD),
            ResponseDone("resp_2", "completed"),
            PlaybackIdle(),
            TimerFired(IDLE_TIMER),
        ],
        Outcome.HANDED_OVER,
    ),
    ("link lost", no_reconnect, [LinkLost("connection reset")], Outcome.OFFLINE),
    ("no link", connecting, [LinkLost("refused", kind="network")], Outcome.OFFLINE),
    ("link refused: bad key", connecting, [LinkLost("HTTP 401", kind="auth")], Outcome.FAILED),
    ("link refused: busy", connecting, [LinkLost("HTTP 429", kind="busy")], Outcome.BUSY),
    ("setup deadline", connecting, [TimerFired(SETUP_TIMER)], Outcome.OFFLINE),
    ("still no link", offline_visitor, [TimerFired(SETUP_TIMER)], Outcome.OFFLINE),
    ("reconnect failed", reconnecting, [ReconnectFailed("refused", "network")], Outcome.OFFLINE),
    ("reconnect refused", reconnecting, [ReconnectFailed("HTTP 401", "auth")], Outcome.FAILED),
    (
        "session expired",
        no_reconnect,
        [error(ErrorKind.SESSION_ENDED, Severity.SESSION, "session_expired")],
        Outcome.OFFLINE,
    ),
    (
        "bad key",
        talking,
        [error(ErrorKind.AUTH, Severity.FATAL, "invalid_api_key")],
        Outcome.FAILED,
    ),
    (
        "session settings refused",
        connecting,
        [error(ErrorKind.BAD_SETTINGS, Severity.FATAL, "unknown_parameter")],
        Outcome.FAILED,
    ),
    (
        "rate limited",
        talking,
        [error(ErrorKind.RATE_LIMITED, Severity.HARMLESS, "rate_limit_exceeded")],
        Outcome.BUSY,
    ),
    ("limits used up", talking, [RateLimits("requests", 20.0)], Outcome.BUSY),
    ("no microphone", talking, [DeviceHealth(False, "microphone gone")], Outcome.FAILED),
]


@pytest.mark.parametrize(
    ("start", "events", "outcome"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_way_of_ending_says_its_outcome(
    start: Callable[[], Conversation], events: list[Event], outcome: Outcome
) -> None:
    conv = start()
    assert ended(conv, events) == [outcome]
    assert not conv.active


def test_the_outcome_of_a_stop_is_the_callers_unless_the_daemon_says_otherwise() -> None:
    assert StopRequested().outcome is Outcome.ENDED_BY_CALLER
    assert ConversationEnded("x").outcome is Outcome.ENDED_BY_CALLER


def test_a_stop_while_idle_ends_nothing() -> None:
    conv = Conversation(policy())
    assert ended(conv, [SHUTDOWN]) == []
    run(conv, [Step(SHUTDOWN, State.IDLE, [])])
