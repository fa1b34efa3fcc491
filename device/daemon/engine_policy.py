"""The conversation engine's policy, from the settings and the tools (pure).

The engine never reads settings itself: `conversation_policy` precomputes what it needs
(the session spec with the tools declared neutrally, timeouts in ms, which tools wait for
the caller's words, whether the server detects turns).
"""

from __future__ import annotations

from device.config.settings import Settings
from device.conversation import ConversationPolicy
from device.realtime.commands import SessionSpec
from device.realtime.settings import NoTurnDetection
from device.tools.base import ToolBox

SETUP_MARGIN_S = 1.5


def conversation_policy(settings: Settings, toolbox: ToolBox | None) -> ConversationPolicy:
    """The engine's policy from the settings and the tools (declared neutrally)."""
    tools = tuple(toolbox.declarations()) if toolbox else ()
    extra = toolbox.instructions() if toolbox else ""
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
        server_interrupts=getattr(settings.realtime.turn_detection, "interrupt_response", False),
        back_online_prompt=settings.conversation.back_online_prompt,
        server_turn_detection=not isinstance(settings.realtime.turn_detection, NoTurnDetection),
    )
