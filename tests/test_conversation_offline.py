"""The engine when a visitor comes while the link is down: try it at once, say offline only
if no session is ready within ``offline_try_ms`` (the link may just have come back)."""

from __future__ import annotations

from collections.abc import Sequence

from device.conversation import (
    SETUP_TIMER,
    Connect,
    Conversation,
    ConversationPolicy,
    LinkLost,
    LinkStatus,
    PlayPrompt,
    ProbeLink,
    SetTimer,
    StartRequested,
    State,
    TimerFired,
)
from device.realtime.commands import SessionSpec
from device.realtime.events import SessionCreated, SessionUpdated
from device.realtime.settings import RealtimeSettings

POLICY = ConversationPolicy(session=SessionSpec(RealtimeSettings()), offline_try_ms=1000.0)


def offline(kind: str = "network") -> Conversation:
    conv = Conversation(POLICY)
    conv.handle(LinkStatus(False, "connection refused", kind), 0.0)
    assert conv.state is State.OFFLINE
    return conv


def prompts(out: Sequence[object]) -> list[str]:
    return [c.name for c in out if isinstance(c, PlayPrompt)]


def test_a_visitor_while_offline_tries_the_link_at_once_with_a_short_deadline() -> None:
    conv = offline()
    out = conv.handle(StartRequested("wake word"), 5000.0)
    assert any(isinstance(c, ProbeLink) for c in out)
    assert any(isinstance(c, Connect) for c in out)
    assert SetTimer(SETUP_TIMER, 1000.0) in out
    assert prompts(out) == []  # nothing said yet: the link may be back
    assert conv.state is State.CONNECTING


def test_still_no_link_after_the_try_says_offline_and_stays_offline() -> None:
    conv = offline()
    conv.handle(StartRequested("wake word"), 5000.0)
    out = conv.handle(TimerFired(SETUP_TIMER), 6000.0)
    assert prompts(out) == ["offline"]
    assert conv.state is State.OFFLINE and not conv.active


def test_a_refused_try_says_offline_or_busy_at_once() -> None:
    conv = offline()
    conv.handle(StartRequested("button"), 5000.0)
    out = conv.handle(LinkLost("HTTP 503", kind="server"), 5010.0)
    assert prompts(out) == ["offline"] and conv.state is State.OFFLINE
    conv = offline("busy")
    conv.handle(StartRequested("button"), 5000.0)
    out = conv.handle(LinkLost("HTTP 429", kind="busy"), 5010.0)
    assert prompts(out) == ["busy"]


def test_the_link_back_in_time_serves_the_visitor() -> None:
    conv = offline()
    conv.handle(StartRequested("wake word"), 5000.0)
    conv.handle(LinkStatus(True), 5030.0)
    conv.handle(SessionCreated("sess_1"), 5031.0)
    out = conv.handle(SessionUpdated("sess_1"), 5040.0)
    assert conv.state is State.LISTENING and prompts(out) == []
    assert prompts(conv.handle(TimerFired(SETUP_TIMER), 6000.0)) == []  # cancelled: no-op
    assert conv.state is State.LISTENING
