"""What the device asks of a Realtime session, in its own words (no wire format here).

The conversation engine emits these inside ``Send``; a `Codec` (device/realtime/codec.py)
turns each into one wire frame. ``event_id`` is stamped by the engine (or the audio lane)
before sending, so that a server error naming it can be matched to the request it answers.

Example::

    Send(RequestReply(event_id="dev_7"))   # the GA codec makes one client frame of it
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from device.realtime.settings import RealtimeSettings, TurnDetection
from device.tools.base import ToolSpec


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """Everything the device sets up in a session: settings, tools, extra instructions.

    ``turn_detection`` overrides the configured turn detection (e.g. push-to-talk turns off
    server turn detection while the button is held); None keeps the configured one.
    """

    realtime: RealtimeSettings
    tools: tuple[ToolSpec, ...] = ()
    extra_instructions: str = ""
    turn_detection: TurnDetection | None = None


@dataclass(frozen=True, slots=True)
class UpdateSession:
    spec: SessionSpec
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class AppendAudio:
    """Caller audio: PCM16 mono at the codec's ``audio_rate_hz`` (20-40 ms per append)."""

    pcm: bytes = field(repr=False)
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class CommitInput:
    """End the caller's turn by hand (push-to-talk; needs >= 100 ms of audio)."""

    event_id: str = ""


@dataclass(frozen=True, slots=True)
class ClearInput:
    """Drop caller audio uploaded but not yet committed."""

    event_id: str = ""


@dataclass(frozen=True, slots=True)
class RequestReply:
    """Ask the model to answer (send only when the `ResponseGate` allows it)."""

    event_id: str = ""


@dataclass(frozen=True, slots=True)
class CancelReply:
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class SendToolOutput:
    """A tool's result for the model (follow it with a gated `RequestReply`)."""

    call_id: str
    output: str
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class Truncate:
    """Cut an assistant audio item to what the caller really heard (see turns.truncate_point)."""

    item_id: str
    audio_end_ms: int
    content_index: int = 0
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class AddTextItem:
    """A text message in the conversation (restoring context after a reconnect)."""

    role: Literal["user", "assistant"]
    text: str
    event_id: str = ""


LinkCommand = (
    UpdateSession
    | AppendAudio
    | CommitInput
    | ClearInput
    | RequestReply
    | CancelReply
    | SendToolOutput
    | Truncate
    | AddTextItem
)
CONTROL_COMMANDS = (
    UpdateSession,
    CommitInput,
    ClearInput,
    RequestReply,
    CancelReply,
    SendToolOutput,
    Truncate,
    AddTextItem,
)
"""Everything but audio: these take the control lane, ahead of queued audio."""
