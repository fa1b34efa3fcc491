"""Local events: what the daemon tells the engine besides the server's events."""

from __future__ import annotations

from dataclasses import dataclass

from device.realtime.events import ServerEvent
from device.tools.base import ToolResult


@dataclass(frozen=True, slots=True)
class StartRequested:
    """Somebody wants to talk: a button press, a wake word, start-up (``source`` says which)."""

    source: str = "start-up"


@dataclass(frozen=True, slots=True)
class StopRequested:
    reason: str = "stopped"


@dataclass(frozen=True, slots=True)
class LinkLost:
    reason: str


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
)
Event = ServerEvent | LocalEvent
