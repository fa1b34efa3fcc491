"""The conversation engine's policy, from the settings and the tools (pure).

The engine never reads settings itself: `conversation_policy` precomputes what it needs
(the session spec with the tools declared neutrally, timeouts in ms, which tools wait for
the caller's words, whether the server detects turns), the cost guard's (the session
model's prices, the limits, the wall clock's local day, and the day's spend kept across
restarts: the one file it reads, device/metrics/budget.py), and disclosure and consent's
(whether the disclosure is said and the consent question asked, its yes and no words; the
session's instructions then carry the device's own lines first: the model says truthfully
that it is an AI when asked, device/conversation/disclosure.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import device.conversation.disclosure as disclosure
from device.config.settings import Settings
from device.conversation import ConversationPolicy
from device.conversation.disclosure import ConsentRule
from device.metrics.budget import ledger_path, load_ledger, time_zone, wall_clock_day
from device.metrics.cost import decimal, prices_for
from device.realtime.commands import SessionSpec
from device.realtime.settings import NoTurnDetection, SemanticVad, ServerVad
from device.tools.base import ToolBox

SETUP_MARGIN_S = 1.5


def conversation_policy(
    settings: Settings, toolbox: ToolBox | None, environ: Mapping[str, str] = os.environ
) -> ConversationPolicy:
    """The engine's policy from the settings and the tools (declared neutrally)."""
    c, m = settings.conversation, settings.metrics
    spent = load_ledger(ledger_path(m, environ)).days if c.daily_budget is not None else {}
    escalate = [t.name for t in settings.tools.items if t.kind == "escalate"]
    tools = tuple(toolbox.declarations()) if toolbox else ()
    asks = c.asks_consent and settings.recording.consent == "required"
    said = bool(c.disclosure and c.disclosure.strip())
    question = c.consent_question if asks else None
    device_lines = disclosure.instructions(c.disclosure, question) if said or asks else ""
    extra = "\n".join(t for t in (device_lines, toolbox.instructions() if toolbox else "") if t)
    return ConversationPolicy(
        session=SessionSpec(settings.realtime, tools=tools, extra_instructions=extra),
        idle_timeout_ms=settings.conversation.idle_timeout_s * 1000.0,
        max_duration_ms=settings.conversation.max_duration_s * 1000.0,
        slow_tool_ms=float(settings.tools.slow_filler_ms),
        device_name=settings.device.name,
        site=settings.device.site,
        confirm_tools=frozenset(
            t.name for t in tools if toolbox and toolbox.needs_confirmation(t.name)
        ),
        transcribes=settings.realtime.transcription.enabled,
        # past the link's own deadline, so its reason (no handshake answer, refused) is
        # what the caller's visit ends on, not a bare "no session in time"
        setup_timeout_ms=(settings.realtime.connect_timeout_s + SETUP_MARGIN_S) * 1000.0,
        reply_stall_ms=settings.realtime.reply_stall_s * 1000.0,
        server_interrupts=isinstance(
            turns := settings.realtime.turn_detection, ServerVad | SemanticVad
        )
        and turns.interrupt_response,
        back_online_prompt=settings.conversation.back_online_prompt,
        server_turn_detection=not isinstance(settings.realtime.turn_detection, NoTurnDetection),
        pricing=prices_for(m, settings.realtime.model),
        max_cost=None if c.max_cost is None else decimal(c.max_cost),
        daily_budget=None if c.daily_budget is None else decimal(c.daily_budget),
        local_day=wall_clock_day(time_zone(m.time_zone)),
        spent_by_day=spent,
        limit_action=c.limit_action,
        handover_tool=escalate[0] if escalate else None,
        disclosure=said,
        consent=ConsentRule.of(c.consent_yes_words, c.consent_no_words) if asks else None,
    )


def _server_interrupts(turns: ServerVad | SemanticVad | NoTurnDetection) -> bool:
    """The server's own VAD cancels a running reply when the caller speaks."""
    return not isinstance(turns, NoTurnDetection) and turns.interrupt_response
