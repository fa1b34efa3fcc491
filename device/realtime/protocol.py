"""The Realtime GA protocol codec: pure, no I/O, no clock.

Server side: ``parse_server_event(text)`` turns one WebSocket frame into a typed event from
device/realtime/events.py (or raises a one-line `ProtocolError`). Client side: small builders
return the plain dicts the GA API accepts; ``encode(event)`` makes the frame text. Also here:
the barge-in truncation arithmetic (`truncate_point`) and the one-active-response rule
(`ResponseGate`).

Example::

    event = parse_server_event(frame)            # -> AudioDelta(...), ResponseDone(...), ...
    frame = encode(session_update(settings.realtime, tools=toolbox.declarations()))
    ms = truncate_point(played_ms=1234.5, received_ms=4000.0)   # -> 1234
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import logging
from collections.abc import Sequence
from typing import Any, Literal

from device.realtime.events import (
    AudioDelta,
    AudioDone,
    FunctionCallDone,
    Ignored,
    InputCommitted,
    InputTranscript,
    InputTranscriptFailed,
    ItemTruncated,
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
    Usage,
)
from device.realtime.settings import NoTurnDetection, RealtimeSettings, SemanticVad, ServerVad

log = logging.getLogger(__name__)

PCM_RATE_HZ = 24000
"""The only PCM rate the GA API speaks (PCM16 mono little-endian)."""

_SAMPLE_CHARS = 80


class ProtocolError(ValueError):
    """A server frame the codec cannot use; the message is one line naming type and field."""


# ---- server events -----------------------------------------------------------------------


def _sample(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = text.replace("\n", " ").replace("\r", " ")
    return repr(text[:_SAMPLE_CHARS] + ("..." if len(text) > _SAMPLE_CHARS else ""))


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
        return value

    def opt_text(self, obj: dict[str, Any], key: str, path: str = "") -> str | None:
        value = self._get(obj, key, path or key, False)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"field {path or key!r} must be a string, got {_kind(value)}")
        return value

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


def parse_server_event(text: str | bytes) -> ServerEvent:
    """One server frame (JSON text) to a typed event; `ProtocolError` if it is unusable.

    Types the device does not act on, including types newer than this code, come back as
    `Ignored(type, raw)`; they never raise.
    """
    return parse_server_dict(load_server_json(text))


def parse_server_dict(obj: dict[str, Any]) -> ServerEvent:
    """Like `parse_server_event`, for a frame already decoded by `load_server_json`."""
    etype = obj.get("type")
    if not isinstance(etype, str) or not etype:
        raise ProtocolError("server event has no 'type' field")
    r = _Reader(etype)
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
            return InputTranscript(r.text(obj, "item_id"), r.text(obj, "transcript"))
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
        case "error":
            return _error(r, obj)
        case _:
            return Ignored(etype, obj)


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
            output_audio_tokens=r.opt_integer(out, "audio_tokens", u + "output_token_details"),
            output_text_tokens=r.opt_integer(out, "text_tokens", u + "output_token_details"),
        ),
    )


def _error(r: _Reader, obj: dict[str, Any]) -> ServerError:
    error = r.obj(obj, "error")
    code = r.opt_text(error, "code", "error.code")
    kind = r.opt_text(error, "type", "error.type")
    param = r.opt_text(error, "param", "error.param")
    message = r.text(error, "message", "error.message")
    severity = classify_error(code, param=param)
    if code not in _KNOWN_CODES:
        log.warning(
            "unclassified realtime error %r (%s) treated as %s: %s",
            code,
            kind,
            severity,
            message[:200].replace("\n", " "),
        )
    return ServerError(
        code=code or kind or "unknown",
        message=message,
        severity=severity,
        param=param,
        client_event_id=r.opt_text(error, "event_id", "error.event_id"),
    )


# ---- error classification ----------------------------------------------------------------

HARMLESS = "harmless"
SESSION = "session"
FATAL = "fatal"

_HARMLESS_CODES = frozenset(
    {
        "conversation_already_has_active_response",  # queue response.create (ResponseGate)
        "response_cancel_not_active",  # the response had ended already
        "input_audio_buffer_commit_empty",  # fewer than 100 ms uploaded
        "unsupported_content_type",  # truncate of an item without model audio
        "item_truncate_invalid_item_id",
        "item_truncate_invalid_audio_end_ms",
    }
)
_SESSION_CODES = frozenset({"session_expired", "session_closed", "session_not_found"})
_FATAL_CODES = frozenset(
    {
        "invalid_api_key",
        "authentication_error",
        "invalid_authentication",
        "permission_denied",
        "insufficient_permissions",
        "insufficient_quota",
        "model_not_found",
        "beta_api_shape_disabled",
        "unknown_parameter",
        "missing_required_parameter",
    }
)
_SESSION_PARAM_CODES = frozenset({"invalid_value", "invalid_type"})
_KNOWN_CODES = _HARMLESS_CODES | _SESSION_CODES | _FATAL_CODES | _SESSION_PARAM_CODES


def classify_error(code: str | None, *, param: str | None = None) -> str:
    """How bad an `error` event is: "harmless", "session" or "fatal".

    ==========================================  =========  ===============================
    code                                        severity   the device...
    ==========================================  =========  ===============================
    conversation_already_has_active_response    harmless   re-queues its response.create
    response_cancel_not_active                  harmless   ignores it (reply had ended)
    input_audio_buffer_commit_empty             harmless   ignores it (< 100 ms uploaded)
    unsupported_content_type, item_truncate_*   harmless   ignores it (truncate refused)
    session_expired, session_closed,            session    ends the session (reconnect)
    session_not_found
    invalid_api_key, authentication_error,      fatal      stops: operator must fix
    invalid_authentication, permission_denied,
    insufficient_permissions, insufficient_quota,
    model_not_found, beta_api_shape_disabled,
    unknown_parameter, missing_required_parameter
    invalid_value, invalid_type                 fatal      when ``param`` names a session
                                                           field (session.update refused)
    invalid_value, invalid_type (other param)   harmless   e.g. a truncate past the audio
    anything else, or no code                   harmless   goes on; the codec logs it once
                                                           at warning level
    ==========================================  =========  ===============================

    Unknown codes default to harmless: most errors leave the session open, and a fatal
    verdict on a new code would stop a working kiosk.
    """
    if code is None:
        return HARMLESS
    if code in _SESSION_CODES:
        return SESSION
    if code in _FATAL_CODES:
        return FATAL
    if code in _SESSION_PARAM_CODES:
        return FATAL if (param or "").startswith("session") else HARMLESS
    return HARMLESS


# ---- client events ----------------------------------------------------------------------


def _pcm_format() -> dict[str, Any]:
    return {"type": "audio/pcm", "rate": PCM_RATE_HZ}


def _turn_detection(td: ServerVad | SemanticVad | NoTurnDetection) -> dict[str, Any] | None:
    match td:
        case ServerVad():
            out: dict[str, Any] = {
                "type": "server_vad",
                "threshold": td.threshold,
                "prefix_padding_ms": td.prefix_padding_ms,
                "silence_duration_ms": td.silence_duration_ms,
                "create_response": td.create_response,
                "interrupt_response": td.interrupt_response,
            }
            if td.idle_timeout_ms is not None:
                out["idle_timeout_ms"] = td.idle_timeout_ms
            return out
        case SemanticVad():
            return {
                "type": "semantic_vad",
                "eagerness": td.eagerness,
                "create_response": td.create_response,
                "interrupt_response": td.interrupt_response,
            }
        case _:
            return None


def session_update(
    rt: RealtimeSettings, *, tools: Sequence[dict[str, Any]] = (), extra_instructions: str = ""
) -> dict[str, Any]:
    """The GA `session.update` for these settings (never the model: it cannot change).

    ``tools`` are function declarations ``{type: "function", name, description, parameters}``;
    ``extra_instructions`` is appended to the configured instructions on a new paragraph.
    """
    audio_in: dict[str, Any] = {
        "format": _pcm_format(),
        "turn_detection": _turn_detection(rt.turn_detection),
        "noise_reduction": (None if rt.noise_reduction == "off" else {"type": rt.noise_reduction}),
    }
    tr = rt.transcription
    if tr.enabled:
        transcription: dict[str, Any] = {"model": tr.model}
        if tr.language is not None:
            transcription["language"] = tr.language
        if tr.prompt is not None:
            transcription["prompt"] = tr.prompt
        audio_in["transcription"] = transcription
    instructions = rt.instructions
    if extra_instructions:
        instructions = (
            f"{instructions}\n\n{extra_instructions}" if instructions else extra_instructions
        )
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": audio_in,
            "output": {"format": _pcm_format(), "voice": rt.voice, "speed": rt.speed},
        },
        "instructions": instructions,
    }
    if tools:
        session["tools"] = [dict(tool) for tool in tools]
        session["tool_choice"] = "auto"
    if rt.max_output_tokens is not None:
        session["max_output_tokens"] = rt.max_output_tokens
    return {"type": "session.update", "session": session}


def input_audio_append(pcm: bytes) -> dict[str, Any]:
    """Upload PCM16 24 kHz mono audio (20-40 ms per call keeps server VAD responsive)."""
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode("ascii")}


def input_audio_commit() -> dict[str, Any]:
    """End the caller's turn by hand (needs >= 100 ms of audio; for no turn detection)."""
    return {"type": "input_audio_buffer.commit"}


def input_audio_clear() -> dict[str, Any]:
    return {"type": "input_audio_buffer.clear"}


def response_create() -> dict[str, Any]:
    """Ask for a reply; send it only when `ResponseGate.request()` says so."""
    return {"type": "response.create"}


def response_cancel() -> dict[str, Any]:
    return {"type": "response.cancel"}


def function_call_output(call_id: str, output: str) -> dict[str, Any]:
    """A tool's result for the model; follow it with a (gated) `response_create()`."""
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": call_id, "output": output},
    }


def item_truncate(item_id: str, audio_end_ms: int, content_index: int = 0) -> dict[str, Any]:
    """Cut an assistant audio item to what the caller heard (see `truncate_point`)."""
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": content_index,
        "audio_end_ms": int(audio_end_ms),
    }


def text_item(role: Literal["user", "assistant"], text: str) -> dict[str, Any]:
    """A text message for the conversation (e.g. restoring context after a reconnect)."""
    content_type = "input_text" if role == "user" else "output_text"
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": role,
            "content": [{"type": content_type, "text": text}],
        },
    }


def encode(event: dict[str, Any]) -> str:
    """Compact JSON text of a client event, ready to send as one text frame."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


class EventIds:
    """Client event ids ``<prefix>1``, ``<prefix>2``...: errors name the event they refer to.

    Example::

        ids = EventIds()
        event = ids.stamp(response_create())   # {"type": "response.create", "event_id": "dev_1"}
    """

    def __init__(self, prefix: str = "dev_") -> None:
        self.prefix = prefix
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self._counter)}"

    def stamp(self, event: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``event`` with a fresh ``event_id``."""
        return {**event, "event_id": self.next()}


# ---- barge-in ---------------------------------------------------------------------------


def truncate_point(played_ms: float, received_ms: float) -> int | None:
    """Where to truncate an interrupted assistant audio item, in whole ms, or None.

    ``played_ms`` is what the speaker really played of the item (the playback clock, not
    wall time); ``received_ms`` is the audio received for it. The answer is played_ms
    floored, so never past the audio received (the server rejects longer values). None
    means send no truncate: nothing was heard yet (< 1 ms; the server refuses a truncate
    at 0) or playback had already reached the end of the audio received (nothing unheard
    to cut; a needless truncate makes the model repeat itself).
    """
    if played_ms < 1.0 or played_ms >= received_ms:
        return None
    return int(min(played_ms, received_ms))


# ---- the one-active-response rule -------------------------------------------------------


class ResponseGate:
    """The one-active-response rule of the Realtime API, without I/O.

    Only one response may run in a session; a `response.create` sent meanwhile is
    refused with `conversation_already_has_active_response`. The gate decides when a
    create may go out and queues (at most) one otherwise. Contract for the caller:

    - before sending `response.create`, call ``request()``; send it only if it returns
      True (False: the request is queued);
    - on every `response.created`, call ``on_created(response_id)``, including responses
      the server made itself (server VAD with create_response): they block requests too;
    - on every `response.done`, call ``on_done(response_id)``; if it returns True, send
      the queued `response.create` now;
    - on an `error` with code `conversation_already_has_active_response`, call
      ``on_rejected_active()``: the request is queued again and released by the running
      response's `response.done`;
    - on a new session (reconnect), call ``reset()``.

    ``active`` is the id of the running response (None when none is known), ``pending``
    is True while a request waits. A create that was sent but not yet answered by
    `response.created` also holds back further requests (see ``busy``).

    Example::

        gate = ResponseGate()
        if gate.request():
            send(response_create())
    """

    def __init__(self) -> None:
        self._active: str | None = None
        self._in_flight = False
        self._pending = False

    @property
    def active(self) -> str | None:
        return self._active

    @property
    def pending(self) -> bool:
        return self._pending

    @property
    def busy(self) -> bool:
        """A response runs or a create was sent and not yet answered."""
        return self._active is not None or self._in_flight

    def request(self) -> bool:
        """True: send `response.create` now. False: it is queued (one at most)."""
        if self.busy:
            self._pending = True
            return False
        self._in_flight = True
        return True

    def on_created(self, response_id: str) -> None:
        self._active = response_id
        self._in_flight = False

    def on_done(self, response_id: str) -> bool:
        """True: the queued request must be sent now (the gate counts it as in flight)."""
        if self._active == response_id:
            self._active = None
        if self._pending and not self.busy:
            self._pending = False
            self._in_flight = True
            return True
        return False

    def on_rejected_active(self) -> None:
        self._in_flight = False
        self._pending = True

    def reset(self) -> None:
        self._active = None
        self._in_flight = False
        self._pending = False
