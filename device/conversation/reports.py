"""Typed reports: what happened, for the sinks (timeline, run summary, log; later LEDs,
systemd STATUS, metrics, the staff page). The engine and the daemon emit them; every sink
receives every report with the time it happened and picks what it shows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from device.conversation.state import State
from device.realtime.events import TranscriptionUsage, Usage


@dataclass(frozen=True, slots=True)
class StateChanged:
    old: State
    new: State


@dataclass(frozen=True, slots=True)
class ConversationStarted:
    conversation_id: str
    source: str  # what started it: "button", "wake word", "start-up", ...


class Outcome(enum.Enum):
    """How a conversation ended, in an operator's words (metrics count by it)."""

    GOODBYE = "goodbye"  # the model ended it (the caller said goodbye)
    HANDED_OVER = "handed_over"  # a human was called
    ENDED_BY_CALLER = "ended_by_caller"  # a long press, a command
    NOBODY_SPOKE = "nobody_spoke"  # abandoned: the idle timer ran out
    TIMED_OUT = "timed_out"  # the maximum conversation length
    OFFLINE = "offline"  # the link was lost or never came (the fallback prompts served)
    BUSY = "busy"  # the service asked the device to back off (rate limit, server error)
    FAILED = "failed"  # a refused key or session, a missing audio device
    OVER_BUDGET = "over_budget"  # the conversation's or the day's cost limit was reached
    SHUTDOWN = "shutdown"  # the daemon stopped under it
    MUTED = "muted"  # the microphone was muted (a switch, SIGUSR2, a service)


@dataclass(frozen=True, slots=True)
class ConversationEnded:
    reason: str
    hangup_ms: float | None = None  # from the model's end or hand-over call to the hang-up
    outcome: Outcome = Outcome.ENDED_BY_CALLER


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The caller finished turn ``n`` of this conversation."""

    n: int


@dataclass(frozen=True, slots=True)
class CallerSaid:
    text: str


@dataclass(frozen=True, slots=True)
class AssistantSaid:
    text: str


@dataclass(frozen=True, slots=True)
class ToolReported:
    name: str
    arguments: str  # raw JSON text written by the model (sinks mask secrets)
    ok: bool
    ms: float
    output: str
    action: str


@dataclass(frozen=True, slots=True)
class FirstAudio:
    """First reply audio of a turn arrived ``latency_ms`` after the caller stopped."""

    latency_ms: float


@dataclass(frozen=True, slots=True)
class UsageReported:
    response_id: str
    status: str
    reason: str | None
    usage: Usage


@dataclass(frozen=True, slots=True)
class CostReported:
    """What one response cost (US dollars, exact, from its usage and ``model``'s prices),
    and the totals so far of its conversation and of the local ``day`` (every visitor)."""

    conversation_id: str
    response_id: str
    model: str
    cost: Decimal
    conversation_cost: Decimal
    day: str
    day_cost: Decimal


@dataclass(frozen=True, slots=True)
class LimitReached:
    """The cost guard stopped the conversation: ``scope`` ``conversation``
    (``conversation.max_cost``) or ``day`` (``conversation.daily_budget``)."""

    scope: str
    spent: Decimal
    limit: Decimal


@dataclass(frozen=True, slots=True)
class VisitorRefused:
    """A visitor was not served: ``reason`` ``daily_budget`` (the day's budget is spent;
    they heard the offline prompt)."""

    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class TranscriptionUsed:
    """What transcribing a caller's turn used (billed at the transcription model's prices)."""

    usage: TranscriptionUsage


@dataclass(frozen=True, slots=True)
class ErrorReported:
    """A problem worth a warning line: ``code`` says what kind, ``message`` the detail."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The caller cut the reply short (``n``: interruptions so far in this conversation).

    ``item_id`` / ``audio_end_ms``: where the reply was truncated (None: nothing to cut);
    ``stop_ms``: from the interruption to the speaker being silent (the flush done).
    """

    source: str
    n: int
    item_id: str | None
    audio_end_ms: int | None
    stop_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Note:
    text: str


@dataclass(frozen=True, slots=True)
class AudioDeviceChanged:
    """An audio device went missing (ok=False) or came back (ok=True)."""

    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class HandedOver:
    """A human was called by the tool ``tool``; ``reason``: ``model`` (the model called
    it) or ``cost_limit`` (the device did, at a cost limit)."""

    tool: str
    reason: str = "model"


@dataclass(frozen=True, slots=True)
class PromptPlayed:
    name: str
    ms: float


@dataclass(frozen=True, slots=True)
class ReplyPaused:
    """A suspected caller paused the reply for ``pause_ms`` and it went on: nobody was
    confirmed (``expired``: the pause ran its longest, ``audio.barge_in.hold_ms``)."""

    pause_ms: float
    expired: bool


@dataclass(frozen=True, slots=True)
class WorkerFailed:
    """A daemon worker raised: ``name`` says which; ``restarted`` whether it runs again."""

    name: str
    error: str
    restarted: bool


@dataclass(frozen=True, slots=True)
class Ready:
    """The device can serve: audio open, models loaded, and the warm session up
    (``standby``) or the offline prompts serving (``offline``: the link is down).
    Sent once per daemon start, ``after_ms`` after it began."""

    after_ms: float
    standby: bool
    offline: bool


@dataclass(frozen=True, slots=True)
class MuteChanged:
    """The microphone was muted (nothing uploaded, no wake word) or unmuted, by ``source``."""

    muted: bool
    source: str


@dataclass(frozen=True, slots=True)
class ConsentAnswered:
    """The caller answered the question whether their voice may be recorded (``recorded``),
    by ``source`` (a spoken answer, a button). The recorder keeps audio after a yes when
    ``recording.consent`` is ``required``, and never after a no (docs/recording.md)."""

    recorded: bool
    source: str


Report = (
    StateChanged
    | ConversationStarted
    | ConversationEnded
    | TurnEnded
    | CallerSaid
    | AssistantSaid
    | ToolReported
    | FirstAudio
    | UsageReported
    | CostReported
    | LimitReached
    | VisitorRefused
    | TranscriptionUsed
    | ErrorReported
    | Interrupted
    | ReplyPaused
    | Note
    | AudioDeviceChanged
    | HandedOver
    | PromptPlayed
    | WorkerFailed
    | Ready
    | MuteChanged
    | ConsentAnswered
)
REPORT_TYPES = Report.__args__
"""The report classes, for isinstance checks."""
