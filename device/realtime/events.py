"""Typed server events, as the device sees them (protocol-neutral).

A codec (device/realtime/codec.py; the GA one in device/realtime/ga/) turns server frames
into these; the conversation engine consumes them. Audio arrives decoded (PCM16 mono at
the codec's ``audio_rate_hz``). Errors carry an `ErrorKind` and a `Severity`, never a wire
code the engine would have to match.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


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
class TranscriptionUsage:
    """What transcribing one caller turn used, as the server reports it (billed at the
    transcription model's prices, not the Realtime model's): tokens, or seconds of audio
    for a model billed by duration (the token fields 0 then)."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_audio_tokens: int = 0
    input_text_tokens: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class InputTranscript:
    """The caller's words (may arrive before or after the response events); ``usage``:
    what transcribing them used, when the server says (None: it did not)."""

    item_id: str
    text: str
    usage: TranscriptionUsage | None = None


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
    """The tokens one response used (``response.done``), billed whatever its status
    (a cancelled reply's tokens too). Input counts include the cached ones:
    ``input_cached_tokens`` is a part of ``input_tokens``, and its text and audio split
    (``input_cached_text_tokens``, ``input_cached_audio_tokens``) a part of
    ``input_text_tokens`` and ``input_audio_tokens``."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_audio_tokens: int = 0
    input_text_tokens: int = 0
    input_cached_tokens: int = 0
    output_audio_tokens: int = 0
    output_text_tokens: int = 0
    input_cached_text_tokens: int = 0
    input_cached_audio_tokens: int = 0


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
class RateLimits:
    """The server's rate limits: ``exhausted`` names a limit at 0 (requests, tokens) or is
    None; ``reset_s`` is when it refills."""

    exhausted: str | None
    reset_s: float = 0.0


class ErrorKind(enum.Enum):
    """What a server error is about, in the device's words."""

    REPLY_BUSY = "reply_busy"  # a reply was asked for while one runs (one at a time)
    NOTHING_TO_CANCEL = "nothing_to_cancel"  # the reply had ended already
    EMPTY_COMMIT = "empty_commit"  # a hand commit with under 100 ms of audio
    TRUNCATE_REFUSED = "truncate_refused"  # the item or the point was not accepted
    SESSION_ENDED = "session_ended"  # the session is over (expiry): reconnect
    AUTH = "auth"  # bad or missing credentials, no permission or quota
    BAD_SETTINGS = "bad_settings"  # the session settings were refused
    RATE_LIMITED = "rate_limited"  # too many requests or tokens: back off
    SERVER = "server"  # the server failed
    OTHER = "other"  # anything else


class Severity(enum.Enum):
    HARMLESS = "harmless"  # the session goes on
    SESSION = "session"  # the session is over; a new one may work
    FATAL = "fatal"  # an operator must fix something (key, settings)


@dataclass(frozen=True, slots=True)
class ServerError:
    """An error from the server. ``code`` is the server's own word, for people only.

    ``client_event_id`` names the client event it answers (None: none named).
    """

    kind: ErrorKind
    severity: Severity
    code: str
    message: str
    param: str | None = None
    client_event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    """An event the device does not act on (known or unknown type); logged at debug.

    ``name`` is the server's name for it, for the log only.
    """

    name: str


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
    | RateLimits
    | ServerError
    | Ignored
)
