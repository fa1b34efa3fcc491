"""What the engine asks the daemon to do (carried out in order by device/daemon/daemon.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from device.realtime.commands import LinkCommand
from device.tools.base import ToolCall, ToolContext


@dataclass(frozen=True, slots=True)
class Connect:
    """Open the Realtime session for the conversation ``conversation_id``."""

    conversation_id: str = ""


@dataclass(frozen=True, slots=True)
class Reconnect:
    """The conversation's session was lost: open a new one (retry budget), then report
    ``SessionReady(restore=True)`` or ``ReconnectFailed``."""


@dataclass(frozen=True, slots=True)
class ProbeLink:
    """Somebody asked for the device while the link is down: try the link again now."""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the Realtime session: nothing of this conversation reaches the next."""


@dataclass(frozen=True, slots=True)
class Send:
    """Send one command on the link (control lane: ahead of any queued audio)."""

    command: LinkCommand


@dataclass(frozen=True, slots=True)
class Upload:
    """Start (True) or stop (False) uploading microphone audio. Off also ends a hold."""

    on: bool


@dataclass(frozen=True, slots=True)
class HoldUpload:
    """The server heard the caller start and not yet stop: upload even what the noise gate
    would hold back (True), or go back to the gate (False)."""

    on: bool


@dataclass(frozen=True, slots=True)
class Play:
    item_id: str
    pcm: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class PlayPrompt:
    """Play a canned local prompt (NAME.wav in the prompts folder)."""

    name: str


@dataclass(frozen=True, slots=True)
class StopPlayback:
    """Silence the speaker at once (an interruption), then report ``PlaybackStopped`` with
    the ms heard of each of ``items``."""

    source: str
    items: tuple[str, ...]
    device_initiated: bool = True


@dataclass(frozen=True, slots=True)
class AwaitPlayback:
    """Report ``PlaybackIdle`` once the speaker has played everything queued."""


@dataclass(frozen=True, slots=True)
class RunTool:
    call: ToolCall
    context: ToolContext


@dataclass(frozen=True, slots=True)
class SetTimer:
    name: str
    delay_ms: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


Command = (
    Connect
    | Reconnect
    | ProbeLink
    | Disconnect
    | Send
    | Upload
    | HoldUpload
    | Play
    | PlayPrompt
    | StopPlayback
    | AwaitPlayback
    | RunTool
    | SetTimer
    | CancelTimer
)
