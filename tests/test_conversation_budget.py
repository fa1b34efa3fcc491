"""The cost guard in the engine (device/conversation/budget.py): every response billed (a
cancelled one too), a conversation stopped at conversation.max_cost or at the day's budget
(the limit prompt, the site's hand-over or the end), the next visitor of a spent day
refused with the offline prompt; table tests on a fake clock."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from device.conversation import (
    Conversation,
    PlaybackIdle,
    StartRequested,
    State,
    ToolFinished,
)
from device.conversation.policy import LIMIT_CALL, ConversationPolicy
from device.conversation.reports import (
    ConversationEnded,
    CostReported,
    HandedOver,
    LimitReached,
    Outcome,
    VisitorRefused,
)
from device.metrics.cost import TokenPrices
from device.metrics.settings import DEFAULT_PRICES
from device.realtime.events import ResponseDone, Usage
from device.tools.base import ToolAction, ToolResult
from tests.helpers.engine import acts, policy, reports, speaking

PRICES = TokenPrices.of("gpt-realtime-2.1", DEFAULT_PRICES["gpt-realtime-2.1"])
# 1000 audio tokens out at $64 per 1M: $0.064 a reply
REPLY = Usage(output_tokens=1000, output_audio_tokens=1000)
REPLY_COST = Decimal("0.064")


def guarded(**changes: Any) -> ConversationPolicy:
    return dataclasses.replace(policy(), pricing=PRICES, local_day=lambda now_ms: DAY, **changes)


DAY = "2025-06-01"


def done(status: str = "completed", rid: str = "resp_1") -> ResponseDone:
    return ResponseDone(rid, status, None, REPLY)


@pytest.mark.parametrize(
    ("changes", "limit", "acted"),
    [
        # under every limit: billed, reported, nothing else
        ({}, None, ["awaitplayback"]),
        ({"max_cost": Decimal("0.10")}, None, ["awaitplayback"]),
        # the conversation's limit: heard no more, the limit prompt, then the end
        (
            {"max_cost": Decimal("0.05"), "limit_action": "end"},
            "conversation",
            ["upload off", "prompt limit", "awaitplayback"],
        ),
        # the day's: the spend kept across restarts counts
        (
            {"daily_budget": Decimal("1"), "spent_by_day": {DAY: Decimal("0.95")}},
            "day",
            ["upload off", "prompt limit", "awaitplayback"],
        ),
        # a hand-over tool: the device runs it itself, and waits for it
        (
            {"max_cost": Decimal("0.05"), "handover_tool": "escalate"},
            "conversation",
            ["upload off", "prompt limit", "run escalate"],
        ),
    ],
)
def test_a_reply_is_billed_and_a_limit_stops_the_visit(
    changes: dict[str, Any], limit: str | None, acted: list[str]
) -> None:
    conv = Conversation(guarded(**changes))
    speaking(conv)
    out = conv.handle(done(), 3000)
    [cost] = reports(out, CostReported)
    assert (cost.cost, cost.conversation_cost, cost.day) == (REPLY_COST, REPLY_COST, DAY)
    assert acts(out) == acted
    assert [r.scope for r in reports(out, LimitReached)] == ([limit] if limit else [])


def test_a_cancelled_reply_is_billed_too() -> None:
    conv = Conversation(guarded(max_cost=Decimal("0.05"), limit_action="end"))
    speaking(conv)
    out = conv.handle(done("cancelled"), 3000)
    assert reports(out, CostReported)[0].cost == REPLY_COST
    assert reports(out, LimitReached)


def test_the_visit_ends_over_budget_once_the_limit_prompt_has_played() -> None:
    conv = Conversation(guarded(max_cost=Decimal("0.05"), limit_action="end"))
    speaking(conv)
    conv.handle(done(), 3000)
    out = conv.handle(PlaybackIdle(), 4000)
    [ended] = reports(out, ConversationEnded)
    assert ended.outcome is Outcome.OVER_BUDGET
    assert conv.state is State.IDLE


def test_the_hand_over_at_a_limit_goes_to_staff_not_to_the_model() -> None:
    conv = Conversation(guarded(max_cost=Decimal("0.05"), handover_tool="escalate"))
    speaking(conv)
    conv.handle(done(), 3000)
    result = ToolResult("{}", True, 80.0, ToolAction.HANDOVER_END, prompt="handover")
    out = conv.handle(ToolFinished(LIMIT_CALL, result), 3100)
    assert acts(out) == ["prompt handover", "awaitplayback"]  # no tool output, no reply asked
    assert reports(out, HandedOver) == [HandedOver("escalate", "cost_limit")]
    [ended] = reports(conv.handle(PlaybackIdle(), 5000), ConversationEnded)
    assert ended.outcome is Outcome.HANDED_OVER


def test_a_failed_hand_over_at_a_limit_still_ends_over_budget() -> None:
    conv = Conversation(guarded(max_cost=Decimal("0.05"), handover_tool="escalate"))
    speaking(conv)
    conv.handle(done(), 3000)
    failed = ToolResult("webhook down", False, 80.0, ToolAction.CONTINUE)
    assert acts(conv.handle(ToolFinished(LIMIT_CALL, failed), 3100)) == ["awaitplayback"]
    [ended] = reports(conv.handle(PlaybackIdle(), 5000), ConversationEnded)
    assert ended.outcome is Outcome.OVER_BUDGET


def test_the_limit_is_reached_once_per_visit() -> None:
    conv = Conversation(guarded(max_cost=Decimal("0.05"), limit_action="end"))
    speaking(conv)
    conv.handle(done(), 3000)
    assert not reports(conv.handle(done(rid="resp_2"), 3100), LimitReached)


@pytest.mark.parametrize(
    ("spent", "day", "refused"),
    [
        (Decimal("1.00"), DAY, True),  # spent: the next visitor hears offline
        (Decimal("0.99"), DAY, False),
        (Decimal("5.00"), "2025-05-31", False),  # yesterday's spend: a new day
    ],
)
def test_a_spent_day_refuses_the_next_visitor(spent: Decimal, day: str, refused: bool) -> None:
    conv = Conversation(guarded(daily_budget=Decimal("1"), spent_by_day={day: spent}))
    out = conv.handle(StartRequested("wake word"), 0)
    if refused:
        assert acts(out) == ["prompt offline"]
        assert reports(out, VisitorRefused) == [VisitorRefused("daily_budget", "wake word")]
        assert conv.state is State.IDLE
    else:
        assert conv.state is State.CONNECTING


def test_the_day_turns_over_at_local_midnight() -> None:
    days = iter(["2025-06-01", "2025-06-01", "2025-06-02"])
    p = guarded(daily_budget=Decimal("0.05"))
    conv = Conversation(dataclasses.replace(p, local_day=lambda now_ms: next(days)))
    speaking(conv)  # its start asked for the day once
    conv.handle(done(), 3000)  # 0.064: the day is spent
    conv.handle(PlaybackIdle(), 4000)
    out = conv.handle(StartRequested("button"), 90_000)  # the next day
    assert not reports(out, VisitorRefused)


def test_no_prices_no_guard() -> None:
    conv = Conversation(dataclasses.replace(policy(), max_cost=Decimal("0.001")))
    speaking(conv)
    assert not reports(conv.handle(done(), 3000), CostReported)
