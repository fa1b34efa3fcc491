"""GA server frames to typed device events (pure, never raises but `ProtocolError`).

``decode(frame)`` turns one WebSocket frame into an event of device/realtime/events.py.
Whatever a hostile or broken server sends (bad UTF-8, JSON nested 100,000 deep, integers
of thousands of digits, wrong field types) is one `ProtocolError` naming what was wrong:
the link skips that frame and the next one is read as usual.

Example::

    decode('{"type": "response.created", "response": {"id": "resp_1"}}')
    # -> ResponseCreated(response_id="resp_1")
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from device.realtime.codec import ProtocolError
from device.realtime.events import (
    AudioDelta,
    AudioDone,
    FunctionCallDone,
    Ignored,
    InputCommitted,
    InputTranscript,
    InputTranscriptFailed,
    ItemTruncated,
    RateLimits,
    ResponseCreated,
    ResponseDone,
    ServerError,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    TranscriptDelta,
    TranscriptDone,
    TranscriptionUsage,
    Usage,
)
from device.realtime.ga.errors import classify_error

_SAMPLE_CHARS = 80


# ---- server events -----------------------------------------------------------------------


def _sample(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text[: _SAMPLE_CHARS * 4].decode("utf-8", errors="replace")
    return repr(text[:_SAMPLE_CHARS] + ("..." if len(text) > _SAMPLE_CHARS else ""))


def _utf8_safe(text: str) -> str:
    """``text`` with lone surrogates (JSON escapes like ``\\ud83d``) replaced by U+FFFD.

    Such text cannot be encoded as UTF-8 again: a log line or the frame restoring it after
    a reconnect would fail.
    """
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def load_server_json(text: str | bytes) -> dict[str, Any]:
    """Decode one frame into a JSON object; `ProtocolError` unless it is an object."""
    try:
        obj = json.loads(text)
    except UnicodeDecodeError:
        raise ProtocolError(f"server event is not UTF-8 text: {_sample(text)}") from None
    except json.JSONDecodeError as exc:
        raise ProtocolError(
            f"server event is not valid JSON ({exc.msg} at char {exc.pos}): {_sample(text)}"
        ) from None
    except RecursionError:
        raise ProtocolError(f"server event is nested too deeply: {_sample(text)}") from None
    except (ValueError, OverflowError, MemoryError) as exc:  # e.g. a 5,000-digit integer
        detail = " ".join(str(exc).split())[:120]
        raise ProtocolError(f"server event cannot be read ({detail}): {_sample(text)}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"server event is not a JSON object (got {type(obj).__name__})")
    return obj


class _Reader:
    """Typed field access that fails with one line naming the event type and field path."""

    def __init__(self, etype: str) -> None:
        self.etype = etype

    def fail(self, what: str) -> ProtocolError:
        return ProtocolError(f"server event {self.etype!r}: {what}")

    def _get(self, obj: dict[str, Any], key: str, path: str, required: bool) -> Any:
        value = obj.get(key)
        if value is None and required:
            raise self.fail(f"missing field {path!r}")
        return value

    def obj(self, obj: dict[str, Any], key: str, path: str = "") -> dict[str, Any]:
        value = self._get(obj, key, path or key, True)
        if not isinstance(value, dict):
            raise self.fail(f"field {path or key!r} must be an object, got {_kind(value)}")
        return value

    def opt_obj(self, obj: dict[str, Any], key: str, path: str = "") -> dict[str, Any]:
        value = self._get(obj, key, path or key, False)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"field {path or key!r} must be an object, got {_kind(value)}")
        return value

    def text(self, obj: dict[str, Any], key: str, path: str = "") -> str:
        value = self._get(obj, key, path or key, True)
        if not isinstance(value, str):
            raise self.fail(f"field {path or key!r} must be a string, got {_kind(value)}")
        return _utf8_safe(value)

    def opt_text(self, obj: dict[str, Any], key: str, path: str = "") -> str | None:
        value = self._get(obj, key, path or key, False)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"field {path or key!r} must be a string, got {_kind(value)}")
        return None if value is None else _utf8_safe(value)

    def integer(self, obj: dict[str, Any], key: str, path: str = "") -> int:
        value = self._get(obj, key, path or key, True)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"field {path or key!r} must be an integer, got {_kind(value)}")
        return value

    def opt_integer(self, obj: dict[str, Any], key: str, path: str = "", default: int = 0) -> int:
        if obj.get(key) is None:
            return default
        return self.integer(obj, key, path)

    def pcm(self, obj: dict[str, Any], key: str) -> bytes:
        text = self.text(obj, key)
        try:
            pcm = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise self.fail(f"field {key!r} is not valid base64: {_sample(text)}") from None
        if len(pcm) % 2:
            raise self.fail(f"field {key!r} holds {len(pcm)} bytes, not whole PCM16 samples")
        return pcm


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def decode(text: str | bytes) -> ServerEvent:
    """One server frame (JSON text) to a typed event; `ProtocolError` if it is unusable.

    Types the device does not act on, including types newer than this code, come back as
    `Ignored(name)`; they never raise.
    """
    obj = load_server_json(text)
    try:
        return parse_server_dict(obj)
    except ProtocolError:
        raise
    except (RecursionError, ValueError, TypeError, OverflowError, MemoryError) as exc:
        detail = " ".join(str(exc).split())[:120]
        raise ProtocolError(
            f"server event cannot be used ({type(exc).__name__}: {detail})"
        ) from None


def parse_server_dict(obj: dict[str, Any]) -> ServerEvent:
    """Like `parse_server_event`, for a frame already decoded by `load_server_json`."""
    etype = obj.get("type")
    if not isinstance(etype, str) or not etype:
        raise ProtocolError("server event has no 'type' field")
    etype = _utf8_safe(etype)
    r = _Reader(etype[:_SAMPLE_CHARS])
    match etype:
        case "session.created":
            session = r.obj(obj, "session")
            # The live server sends session.id and expires_at; the openai types omit them.
            return SessionCreated(
                session_id=r.opt_text(session, "id", "session.id") or "",
                expires_at=r.opt_integer(session, "expires_at", "session.expires_at", 0) or None,
            )
        case "session.updated":
            session = r.obj(obj, "session")
            return SessionUpdated(session_id=r.opt_text(session, "id", "session.id"))
        case "input_audio_buffer.speech_started":
            return SpeechStarted(r.text(obj, "item_id"), r.integer(obj, "audio_start_ms"))
        case "input_audio_buffer.speech_stopped":
            return SpeechStopped(r.text(obj, "item_id"), r.integer(obj, "audio_end_ms"))
        case "input_audio_buffer.committed":
            return InputCommitted(r.text(obj, "item_id"))
        case "conversation.item.input_audio_transcription.completed":
            return InputTranscript(
                r.text(obj, "item_id"), r.text(obj, "transcript"), _transcription_usage(r, obj)
            )
        case "conversation.item.input_audio_transcription.failed":
            error = r.opt_obj(obj, "error")
            return InputTranscriptFailed(
                r.text(obj, "item_id"), r.opt_text(error, "message", "error.message") or ""
            )
        case "response.created":
            response = r.obj(obj, "response")
            return ResponseCreated(r.text(response, "id", "response.id"))
        case "response.output_audio.delta":
            return AudioDelta(
                response_id=r.text(obj, "response_id"),
                item_id=r.text(obj, "item_id"),
                content_index=r.opt_integer(obj, "content_index"),
                pcm=r.pcm(obj, "delta"),
            )
        case "response.output_audio.done":
            return AudioDone(r.text(obj, "response_id"), r.text(obj, "item_id"))
        case "response.output_audio_transcript.delta":
            return TranscriptDelta(
                r.text(obj, "response_id"), r.text(obj, "item_id"), r.text(obj, "delta")
            )
        case "response.output_audio_transcript.done":
            return TranscriptDone(
                r.text(obj, "response_id"), r.text(obj, "item_id"), r.text(obj, "transcript")
            )
        case "response.function_call_arguments.done":
            return FunctionCallDone(
                response_id=r.text(obj, "response_id"),
                item_id=r.text(obj, "item_id"),
                call_id=r.text(obj, "call_id"),
                name=r.text(obj, "name"),
                arguments=r.text(obj, "arguments"),
            )
        case "response.done":
            return _response_done(r, obj)
        case "conversation.item.truncated":
            return ItemTruncated(r.text(obj, "item_id"), r.integer(obj, "audio_end_ms"))
        case "rate_limits.updated":
            return _rate_limits(r, obj)
        case "error":
            return _error(r, obj)
        case _:
            return Ignored(etype[:_SAMPLE_CHARS])


def _rate_limits(r: _Reader, obj: dict[str, Any]) -> RateLimits:
    limits = obj.get("rate_limits")
    if not isinstance(limits, list):
        raise r.fail(f"field 'rate_limits' must be an array, got {_kind(limits)}")
    exhausted: str | None = None
    reset_s = 0.0
    for limit in limits:
        if not isinstance(limit, dict):
            raise r.fail(f"field 'rate_limits[]' must be an object, got {_kind(limit)}")
        remaining = limit.get("remaining")
        if (
            isinstance(remaining, int | float)
            and not isinstance(remaining, bool)
            and remaining <= 0
        ):
            exhausted = str(limit.get("name") or "requests")[:40]
            reset = limit.get("reset_seconds")
            if isinstance(reset, int | float) and not isinstance(reset, bool):
                reset_s = max(reset_s, min(max(float(reset), 0.0), 3600.0))
    return RateLimits(exhausted, reset_s)


def _response_done(r: _Reader, obj: dict[str, Any]) -> ResponseDone:
    response = r.obj(obj, "response")
    details = r.opt_obj(response, "status_details", "response.status_details")
    reason = r.opt_text(details, "reason", "response.status_details.reason")
    if reason is None:  # a failed response explains itself in status_details.error
        error = r.opt_obj(details, "error", "response.status_details.error")
        reason = r.opt_text(error, "code", "response.status_details.error.code")
    usage = r.opt_obj(response, "usage", "response.usage")
    inp = r.opt_obj(usage, "input_token_details", "response.usage.input_token_details")
    out = r.opt_obj(usage, "output_token_details", "response.usage.output_token_details")
    u = "response.usage."
    cached_path = u + "input_token_details.cached_tokens_details"
    cached = r.opt_obj(inp, "cached_tokens_details", cached_path)
    return ResponseDone(
        response_id=r.text(response, "id", "response.id"),
        status=r.text(response, "status", "response.status"),
        reason=reason,
        usage=Usage(
            input_tokens=r.opt_integer(usage, "input_tokens", u + "input_tokens"),
            output_tokens=r.opt_integer(usage, "output_tokens", u + "output_tokens"),
            input_audio_tokens=r.opt_integer(inp, "audio_tokens", u + "input_token_details"),
            input_text_tokens=r.opt_integer(inp, "text_tokens", u + "input_token_details"),
            input_cached_tokens=r.opt_integer(inp, "cached_tokens", u + "input_token_details"),
            input_cached_text_tokens=r.opt_integer(cached, "text_tokens", cached_path),
            input_cached_audio_tokens=r.opt_integer(cached, "audio_tokens", cached_path),
            output_audio_tokens=r.opt_integer(out, "audio_tokens", u + "output_token_details"),
            output_text_tokens=r.opt_integer(out, "text_tokens", u + "output_token_details"),
        ),
    )


def _transcription_usage(r: _Reader, obj: dict[str, Any]) -> TranscriptionUsage | None:
    """``usage`` of a finished transcription: tokens, or seconds of audio (None: absent)."""
    usage = r.opt_obj(obj, "usage")
    if not usage:
        return None
    if usage.get("type") == "duration":
        seconds = usage.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise r.fail(f"field 'usage.seconds' must be a number, got {_kind(seconds)}")
        if not 0.0 <= seconds <= 86400.0:  # NaN and infinities fail here too
            raise r.fail(f"field 'usage.seconds' out of range: {seconds!r}")
        return TranscriptionUsage(seconds=float(seconds))
    details = r.opt_obj(usage, "input_token_details", "usage.input_token_details")
    return TranscriptionUsage(
        input_tokens=r.opt_integer(usage, "input_tokens", "usage.input_tokens"),
        output_tokens=r.opt_integer(usage, "output_tokens", "usage.output_tokens"),
        input_audio_tokens=r.opt_integer(details, "audio_tokens", "usage.input_token_details"),
        input_text_tokens=r.opt_integer(details, "text_tokens", "usage.input_token_details"),
    )


def _error(r: _Reader, obj: dict[str, Any]) -> ServerError:
    error = r.obj(obj, "error")
    code = r.opt_text(error, "code", "error.code")
    kind_name = r.opt_text(error, "type", "error.type")
    param = r.opt_text(error, "param", "error.param")
    message = r.text(error, "message", "error.message")
    kind, severity = classify_error(code, param=param)
    return ServerError(
        kind=kind,
        severity=severity,
        code=code or kind_name or "unknown",
        message=message,
        param=param,
        client_event_id=r.opt_text(error, "event_id", "error.event_id"),
    )
