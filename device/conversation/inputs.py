"""Local events: what the daemon tells the engine besides the server's events."""

from __future__ import annotations

from dataclasses import dataclass

from device.conversation.reports import Outcome
from device.realtime.events import ServerEvent
from device.tools.base import ToolResult


@dataclass(frozen=True, slots=True)
class StartRequested:
    """Somebody wants to talk: a button press, a wake word, start-up (``source`` says which)."""

    source: str = "start-up"


@dataclass(frozen=True, slots=True)
class StopRequested:
    """End the conversation now: a long press, a command, the daemon shutting down
    (``outcome`` says which for the metrics: ``Outcome.SHUTDOWN`` when the daemon stops)."""

    reason: str = "stopped"
    outcome: Outcome = Outcome.ENDED_BY_CALLER


@dataclass(frozen=True, slots=True)
class LinkLost:
    """The link dropped, or could not be opened.

    ``retryable``: a new session may work (a dead link, close 1001/1011/..., expiry);
    ``kind``: why, in the retry helper's words ("network", "server", "busy", "auth", ...).
    """

    reason: str
    retryable: bool = False
    kind: str = ""


@dataclass(frozen=True, slots=True)
class SessionReady:
    """A session was opened and set up (the warm standby, or a reconnect): no handshake to
    wait for. ``restore``: it replaces the conversation's lost one."""

    restore: bool = False


@dataclass(frozen=True, slots=True)
class ReconnectFailed:
    """No new session could be opened within the retry budget."""

    reason: str
    kind: str = ""


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """What the standby keeper knows of the link while idle: up, or down and why."""

    up: bool
    reason: str = ""
    kind: str = ""


@dataclass(frozen=True, slots=True)
class ToolFinished:
    call_id: str
    result: ToolResult


@dataclass(frozen=True, slots=True)
class PlaybackIdle:
    """Everything handed to the speaker so far has played."""


@dataclass(frozen=True, slots=True)
class TimerFired:
    name: str


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """An audio device went missing (ok=False) or came back (ok=True)."""

    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class InterruptRequested:
    """Stop the reply and listen: a button press, the wake word, local speech detection."""

    source: str


@dataclass(frozen=True, slots=True)
class PlaybackStopped:
    """The daemon flushed the speaker for an interruption; ``heard_ms`` per item of the
    interrupted reply is what really reached the speaker (the playback clock)."""

    source: str
    heard_ms: tuple[tuple[str, float], ...]
    device_initiated: bool = True


@dataclass(frozen=True, slots=True)
class TalkStarted:
    """Push-to-talk: the caller holds the button and speaks (a conversation starts first
    if there is none)."""

    source: str = "button"


@dataclass(frozen=True, slots=True)
class TalkEnded:
    """Push-to-talk: the turn is over; ``commit`` False drops it (too short, or the caller
    ended the conversation)."""

    commit: bool
    source: str = "button"


LocalEvent = (
    StartRequested
    | StopRequested
    | LinkLost
    | ToolFinished
    | PlaybackIdle
    | TimerFired
    | DeviceHealth
    | InterruptRequested
    | PlaybackStopped
    | SessionReady
    | ReconnectFailed
    | LinkStatus
    | TalkStarted
    | TalkEnded
)
Event = ServerEvent | LocalEvent
