"""One visitor, one object: everything that belongs to one conversation.

The engine replaces its `Visitor` whole when a conversation starts, so nothing one walk-up
visitor said or did (words, tool calls, confirmations, counts, requests in flight) can be
seen by the next: there is no field to forget to reset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from device.realtime.commands import LinkCommand
from device.realtime.turns import ResponseGate
from device.tools.base import ToolCall

SENT_KEPT = 128
"""How many of the visitor's sent commands are kept to match server errors against."""


@dataclass
class Visitor:
    conversation_id: str = ""
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (role, text)
    transcript_at: dict[str, int] = field(default_factory=dict)  # assistant item -> index
    heard_fraction: dict[str, float] = field(default_factory=dict)  # truncated item -> part
    turns: int = 0
    gate: ResponseGate = field(default_factory=ResponseGate)
    # the caller's turn timing (first reply audio latency)
    speech_stopped_at_ms: float | None = None
    first_audio_seen: bool = True
    # the server heard the caller start and not yet stop
    caller_turn_open: bool = False
    caller_items: set[str] = field(default_factory=set)  # this visitor's input items
    untranscribed: set[str] = field(default_factory=set)  # caller turns without words yet
    # tools
    pending_tools: dict[str, ToolCall] = field(default_factory=dict)
    held: list[ToolCall] = field(default_factory=list)  # confirm tools awaiting the words
    call_response: dict[str, str] = field(default_factory=dict)  # call_id -> response
    call_at_ms: dict[str, float] = field(default_factory=dict)  # call_id -> asked when
    # responses
    dropped_responses: set[str] = field(default_factory=set)
    spoken_responses: set[str] = field(default_factory=set)  # responses with reply audio
    # reply audio, per item, for truncation (the playback clock says what was heard)
    reply_items: dict[str, list[str]] = field(default_factory=dict)  # response -> items
    received_ms: dict[str, float] = field(default_factory=dict)  # item -> audio received
    last_reply: str | None = None  # the response whose audio came last
    interruptions: int = 0
    link_was_down: tuple[str, str] | None = None  # (reason, kind) when the visitor came
    interrupt_at_ms: float | None = None  # when the last StopPlayback was asked for
    reconnects: int = 0
    # push-to-talk
    talking: bool = False  # the caller holds the button (server turn detection is off)
    talk_pending: bool = False  # pressed before the session was ready
    lost_prompt_played: bool = False  # connection_lost was said during this reconnect
    # the end
    ending: str | None = None  # the reason, once a hang-up is decided
    ending_since_ms: float | None = None  # when the model's end / hand-over call came
    handover: bool = False
    # client commands sent, by event_id (errors name the event they answer)
    sent: dict[str, LinkCommand] = field(default_factory=dict)

    def remember(self, command: LinkCommand) -> None:
        self.sent[command.event_id] = command
        if len(self.sent) > SENT_KEPT:
            self.sent.pop(next(iter(self.sent)))
