"""Typed server events of the Realtime GA protocol, as the device sees them.

The codec (device/realtime/protocol.py) turns server JSON into these; the conversation
engine consumes them. Audio arrives decoded (PCM16 24 kHz mono bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SessionCreated:
    session_id: str
    expires_at: int | None = None


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputCommitted:
    item_id: str


@dataclass(frozen=True, slots=True)
class InputTranscript:
    """The caller's words (may arrive before or after the response events)."""

    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class InputTranscriptFailed:
    """The caller's words could not be transcribed (the turn itself goes on)."""

    item_id: str
    message: str


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    response_id: str


@dataclass(frozen=True, slots=True)
class AudioDelta:
    response_id: str
    item_id: str
    content_index: int
    pcm: bytes


@dataclass(frozen=True, slots=True)
class AudioDone:
    response_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    response_id: str
    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class TranscriptDone:
    response_id: str
    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class FunctionCallDone:
    """The model asks for a tool: ``arguments`` is the raw JSON text it wrote."""

    response_id: str
    item_id: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    input_audio_tokens: int = 0
    input_text_tokens: int = 0
    input_cached_tokens: int = 0
    output_audio_tokens: int = 0
    output_text_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """Always arrives, however a response ends: status completed|cancelled|failed|incomplete."""

    response_id: str
    status: str
    reason: str | None = None
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class ItemTruncated:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class ServerError:
    """An `error` event. ``severity`` comes from protocol.classify_error."""

    code: str
    message: str
    severity: str  # "harmless" | "session" (session is over: reconnect) | "fatal"
    param: str | None = None
    client_event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    """An event the device does not act on (known or unknown type); logged at debug."""

    type: str
    raw: dict[str, Any] = field(default_factory=dict)


ServerEvent = (
    SessionCreated
    | SessionUpdated
    | SpeechStarted
    | SpeechStopped
    | InputCommitted
    | InputTranscript
    | InputTranscriptFailed
    | ResponseCreated
    | AudioDelta
    | AudioDone
    | TranscriptDelta
    | TranscriptDone
    | FunctionCallDone
    | ResponseDone
    | ItemTruncated
    | ServerError
    | Ignored
)
