"""What the engine needs from the settings, and the names of its timers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

from device.conversation.disclosure import ConsentRule
from device.realtime.commands import SessionSpec
from device.realtime.events import Usage


class Pricing(Protocol):
    """What a response's usage costs (device/metrics/cost.py `TokenPrices` is one)."""

    @property
    def model(self) -> str: ...

    def cost(self, usage: Usage) -> Decimal:
        """US dollars, exact."""
        ...


@dataclass(frozen=True)
class ConversationPolicy:
    """What the engine needs from the settings, precomputed by the caller."""

    session: SessionSpec
    idle_timeout_ms: float = 20_000.0
    max_duration_ms: float = 600_000.0
    slow_tool_ms: float = 700.0
    device_name: str = ""
    site: str = ""
    # tools that run only after the caller's spoken yes: they wait for the caller's words
    confirm_tools: frozenset[str] = frozenset()
    transcribes: bool = True  # the session transcribes the caller (input transcription on)
    transcript_wait_ms: float = 2000.0  # longest wait for those words
    audio_rate_hz: int = 24000  # PCM16 mono rate of reply audio (the codec's)
    setup_timeout_ms: float = 10_000.0  # session.created and session.updated within this
    reply_stall_ms: float = 5_000.0  # a reply that sends nothing for this long is abandoned
    server_interrupts: bool = True
    reconnect: bool = True  # a dropped session mid-conversation is replaced and restored
    max_reconnects: int = 3  # per conversation; then it ends offline
    restore_prompt_ms: float = 1000.0  # say connection_lost only if restoring takes longer
    # a visitor who comes while the link is down: try it at once, and say offline (or busy)
    # only if no session is ready in this long (the link may just have come back)
    offline_try_ms: float = 1000.0
    back_online_prompt: bool = False
    # push-to-talk: the server must not end a held turn on a pause, so its turn detection
    # is switched off while the button is held (when the session uses server turn detection)
    server_turn_detection: bool = True  # the server cancels a reply when the caller speaks
    # a reply request the server failed (a transient server_error) is asked again once,
    # after this back-off; a second failure plays the busy prompt and ends the visit
    server_error_retry_ms: float = 500.0
    # the cost guard (device/conversation/budget.py): the session model's prices (None: the
    # cost is not known, nothing is guarded), the limits in US dollars (None: no limit)
    pricing: Pricing | None = None
    max_cost: Decimal | None = None  # one conversation
    daily_budget: Decimal | None = None  # every conversation of one local day together
    # the local day (an ISO date) at the engine's ``now_ms``: the one reading of the wall
    # clock the engine is handed (the default: one day that never ends)
    local_day: Callable[[float], str] = lambda now_ms: ""
    spent_by_day: Mapping[str, Decimal] = field(default_factory=dict)  # kept across restarts
    # at a limit: "handover" runs the hand-over tool (if the site has one) after the limit
    # prompt, "end" just ends the conversation after it
    limit_action: Literal["handover", "end"] = "handover"
    handover_tool: str | None = None  # the site's hand-over (escalate) tool, by name
    # disclosure and consent (device/conversation/disclosure.py): the ``disclosure`` prompt
    # said as each conversation starts; the ``consent`` question after it (None: not
    # asked), the caller's first words answering it with these yes and no words
    disclosure: bool = False
    consent: ConsentRule | None = None


IDLE_TIMER = "idle"
TRANSCRIPT_TIMER = "transcript"
MAX_TIMER = "max-duration"
SLOW_PREFIX = "slow-tool:"
SETUP_TIMER = "session-setup"
STALL_TIMER = "reply-stall"
RESTORE_TIMER = "restore"
RETRY_TIMER = "reply-retry"
LIMIT_CALL = "device-limit-handover"
"""The call_id of the hand-over the device itself runs at a cost limit."""
