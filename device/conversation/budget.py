"""The cost guard: what each conversation and each local day has cost, and the limits.

`CostGuard` is a small pure machine of the engine's that outlives visitors (like
`Availability`): the spend of the current visit and of every day seen, seeded with the
days kept across restarts (``policy.spent_by_day``). It keeps the books. The steps below
(`refuse`, `bill`, `limit_handed_over`) add the outputs they call for; the engine still
decides every transition (a visit stopped at a limit ends through the farewell, once
what is owed has played).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from device.conversation.commands import PlayPrompt, RunTool, Upload
from device.conversation.outputs import Output
from device.conversation.policy import LIMIT_CALL, ConversationPolicy
from device.conversation.reports import (
    CostReported,
    HandedOver,
    LimitReached,
    Note,
    Outcome,
    VisitorRefused,
)
from device.conversation.tool_desk import tool_report
from device.conversation.visitor import Visitor
from device.realtime.events import Usage
from device.tools.base import ToolAction, ToolCall, ToolContext, ToolResult

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Spent:
    """One response's cost and the totals it brought; ``limit``: the scope whose limit it
    reached first in this visit (``day`` before ``conversation``), else None."""

    cost: Decimal
    conversation: Decimal
    day: str
    day_total: Decimal
    limit: str | None = None
    limit_value: Decimal = ZERO


class CostGuard:
    """The spend of the visit and of each day, against ``max_cost`` and ``daily_budget``.

    Contract for the engine:

    - a conversation is to start: ask ``refuses(day)`` first (the day's budget is spent:
      the visitor is not served); then ``begin()``;
    - a response is done: ``spend(cost, day)`` (whatever its status: a cancelled reply
      is billed too) returns the totals, and the limit reached (once per visit).

    Example::

        guard = CostGuard(max_cost=Decimal("0.50"), daily_budget=None)
        guard.begin()
        guard.spend(Decimal("0.60"), "2025-06-01").limit  # 'conversation'
    """

    def __init__(
        self,
        *,
        max_cost: Decimal | None,
        daily_budget: Decimal | None,
        spent_by_day: dict[str, Decimal] | None = None,
    ) -> None:
        self.max_cost = max_cost
        self.daily_budget = daily_budget
        self._days: dict[str, Decimal] = dict(spent_by_day or {})
        self._visit = ZERO
        self._limited = False

    @classmethod
    def of(cls, policy: ConversationPolicy) -> CostGuard:
        return cls(
            max_cost=policy.max_cost,
            daily_budget=policy.daily_budget,
            spent_by_day=dict(policy.spent_by_day),
        )

    @property
    def visit(self) -> Decimal:
        """What the current (or last) conversation has cost."""
        return self._visit

    def day_total(self, day: str) -> Decimal:
        return self._days.get(day, ZERO)

    def refuses(self, day: str) -> bool:
        """The day's budget is spent: nobody more is served that day."""
        return self.daily_budget is not None and self.day_total(day) >= self.daily_budget

    def begin(self) -> None:
        self._visit = ZERO
        self._limited = False

    def spend(self, cost: Decimal, day: str) -> Spent:
        self._visit += cost
        self._days[day] = self.day_total(day) + cost
        limit, value = None, ZERO
        if not self._limited:
            if self.daily_budget is not None and self._days[day] >= self.daily_budget:
                limit, value = "day", self.daily_budget
            elif self.max_cost is not None and self._visit >= self.max_cost:
                limit, value = "conversation", self.max_cost
            self._limited = limit is not None
        return Spent(cost, self._visit, day, self._days[day], limit, value)


# -- the engine's steps -------------------------------------------------------------------


def refuse(guard: CostGuard, policy: ConversationPolicy, now_ms: float, source: str,
           out: list[Output]) -> bool:  # fmt: skip
    """A visitor comes: True (and the offline prompt, which says where to get help) when
    the day's budget is spent; else the visit's books are opened."""
    if policy.pricing is not None and guard.refuses(policy.local_day(now_ms)):
        out.append(Note(f"not starting ({source}): the day's budget is spent"))
        out += [VisitorRefused("daily_budget", source), PlayPrompt("offline")]
        return True
    guard.begin()
    return False


def bill(
    v: Visitor,
    policy: ConversationPolicy,
    guard: CostGuard,
    response_id: str,
    usage: Usage,
    context: Callable[[], ToolContext],
    *,
    active: bool,
    now_ms: float,
    out: list[Output],
) -> None:
    """A response is done: its cost reported (every status is billed), and the first limit
    it reaches stops the visit (`stop_at_limit`)."""
    pricing = policy.pricing
    if pricing is None:
        return
    spent = guard.spend(pricing.cost(usage), policy.local_day(now_ms))
    out.append(
        CostReported(
            v.conversation_id,
            response_id,
            pricing.model,
            spent.cost,
            spent.conversation,
            spent.day,
            spent.day_total,
        )
    )
    if spent.limit is not None and active and not v.farewell.decided:
        stop_at_limit(v, policy, spent, context(), now_ms, out)


def stop_at_limit(
    v: Visitor,
    policy: ConversationPolicy,
    spent: Spent,
    context: ToolContext,
    now_ms: float,
    out: list[Output],
) -> None:
    """A cost limit is reached: the caller is heard no more (nothing more reaches the
    model), the reply so far plays out, then the ``limit`` prompt; with ``limit_action:
    handover`` the site's hand-over tool runs (the device's own call, `LIMIT_CALL`); the
    visit ends once all that is done (`Outcome.OVER_BUDGET`, or `HANDED_OVER`)."""
    scope = spent.limit or "conversation"
    total = spent.day_total if scope == "day" else spent.conversation
    out += [LimitReached(scope, total, spent.limit_value), Upload(False), PlayPrompt("limit")]
    v.farewell.decide(f"the {scope}'s cost limit was reached", Outcome.OVER_BUDGET)
    if policy.limit_action == "handover" and policy.handover_tool:
        summary = f"The device's {scope} cost limit was reached: the caller needs a person."
        call = ToolCall(LIMIT_CALL, policy.handover_tool, json.dumps({"summary": summary}))
        v.tools.called(call, "", now_ms)
        out.append(RunTool(call, context))


def limit_handed_over(v: Visitor, call: ToolCall, result: ToolResult, out: list[Output]) -> None:
    """The hand-over the device ran at a cost limit finished: its report and line; nothing
    goes to the model (it never asked for this call)."""
    out.append(tool_report(call, result))
    if result.prompt:
        out.append(PlayPrompt(result.prompt))
    if result.action in (ToolAction.HANDOVER_HOLD, ToolAction.HANDOVER_END):
        v.farewell.hand_over()
        out.append(HandedOver(call.name, "cost_limit"))
        v.farewell.decide("handed over to a human (cost limit)", Outcome.HANDED_OVER)
