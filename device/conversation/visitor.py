"""One visitor, one object: everything that belongs to one conversation.

The engine replaces its `Visitor` whole when a conversation starts, so nothing one walk-up
visitor said or did (words, tool calls, confirmations, counts, requests in flight) can be
seen by the next: there is no field to forget to reset.

The visitor is made of small pure machines, each owning its fields and stating its
contract: the caller's turns and the push-to-talk button (caller.py), the reply ledger
(replies.py), the tool desk (tool_desk.py), the link keeper (link_keeper.py), the outbox
(outbox.py), the farewell (farewell.py), the consent question (disclosure.py), and the
one-active-response gate (device/realtime/turns.py). The properties below are read-only
views for tests and sinks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from device.conversation.caller import CallerTurns, TalkButton
from device.conversation.disclosure import Consent
from device.conversation.farewell import Farewell
from device.conversation.link_keeper import LinkKeeper
from device.conversation.outbox import Outbox
from device.conversation.replies import ReplyLedger
from device.conversation.tool_desk import ToolDesk
from device.realtime.commands import LinkCommand
from device.realtime.turns import ResponseGate
from device.tools.base import ToolCall


@dataclass
class Visitor:
    """One conversation's state (see the module docstring). The engine owns it."""

    conversation_id: str = ""
    caller: CallerTurns = field(default_factory=CallerTurns)
    talk: TalkButton = field(default_factory=TalkButton)
    replies: ReplyLedger = field(default_factory=ReplyLedger)
    tools: ToolDesk = field(default_factory=ToolDesk)
    link: LinkKeeper = field(default_factory=LinkKeeper)
    outbox: Outbox = field(default_factory=Outbox)
    farewell: Farewell = field(default_factory=Farewell)
    gate: ResponseGate = field(default_factory=ResponseGate)
    consent: Consent = field(default_factory=Consent)

    @property
    def owes(self) -> bool:
        """A reply runs or a tool is pending: something is still owed to the caller."""
        return self.tools.busy or self.gate.active is not None

    @property
    def transcript(self) -> list[tuple[str, str]]:
        """The words so far, (role, text): a copy."""
        return list(self.replies.transcript)

    @property
    def turns(self) -> int:
        return self.caller.turns

    @property
    def caller_turn_open(self) -> bool:
        """The server heard the caller start and not yet stop (or the button is held)."""
        return self.caller.is_open

    @property
    def untranscribed(self) -> frozenset[str]:
        return self.caller.untranscribed

    @property
    def talking(self) -> bool:
        """Push-to-talk: the caller holds the button (server turn detection is off)."""
        return self.talk.talking

    @property
    def pending_tools(self) -> Mapping[str, ToolCall]:
        return self.tools.pending

    @property
    def held(self) -> tuple[ToolCall, ...]:
        """Confirm tools waiting for the caller's words."""
        return self.tools.held

    @property
    def call_response(self) -> Mapping[str, str]:
        return self.tools.call_response

    @property
    def spoken_responses(self) -> frozenset[str]:
        return self.replies.spoken

    @property
    def dropped_responses(self) -> frozenset[str]:
        return self.replies.dropped

    @property
    def sent(self) -> Mapping[str, LinkCommand]:
        """Commands sent to this visitor's session, by event_id."""
        return self.outbox.sent
