"""The emulator's fault switches: what each fault is, when it fires, and how it is written.

Pure: types and validation only. A fault is written as a mapping with one fault key, the same
in a scenario turn, under the scenario's ``faults:`` (with ``after_ms``), on the command line
(``--fault`` / ``--turn-fault``), and in ``Emulator.inject`` / ``GET /emulator/inject``:

=====================================  ===================================================
``error: CODE`` or ``error: {code,     an ``error`` event (session stays open). ``type``
message, type, param, event_id,        and ``message`` default per code (`ERROR_DEFAULTS`);
answers}``                             ``event_id`` names a client event literally,
                                       ``answers: TYPE`` names the latest client event of
                                       that type (e.g. ``response.create``)
``close: CODE``                        close the WebSocket with CODE (1000, 1001, 1011, ...);
                                       1006 drops TCP with no close frame
``drop: true``                         the same as ``close: 1006``
``stall: MS`` or ``stall: {ms,         send nothing and handle no client event for MS
pings}``                               (``ms: null``: until healed); ``pings: false`` also
                                       stops reading the socket, so pings go unanswered
``stall_response: true``               the active response sends nothing more (it stays
                                       active until the client cancels it)
``malformed: KIND`` (``true`` is       one broken frame: `MALFORMED_KINDS`; any other string
``not_json``)                          is sent as it is
``unknown_event: TYPE`` (``true``:     a well-formed event of a type the API does not have
``response.hologram.delta``)
``rate_limits: {exhausted, reset_      ``rate_limits.updated`` with ``requests``, ``tokens``
seconds}``                             or ``both`` at remaining 0
``expire: true``                       error ``session_expired``, then close 1001
=====================================  ===================================================

A turn's faults fire at ``fault_at``: ``commit`` (when its audio is committed; the default
for ``error``), ``created`` (after its first response's ``response.created``; the default for
the others), ``N`` (after the N-th audio or text delta of that response, or before the
response's end if it has fewer; for a function call, between the argument deltas and
``arguments.done``) or ``done`` (after that response's ``response.done``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml

from tools.realtime_emulator.checks import ScenarioError, flag, integer, known, mapping, text

__all__ = [
    "ERROR_DEFAULTS",
    "MALFORMED_KINDS",
    "ClockFault",
    "Close",
    "Expire",
    "Fault",
    "Malformed",
    "RateLimits",
    "ScenarioError",
    "SendError",
    "Stall",
    "StallResponse",
    "TurnFault",
    "UnknownEvent",
    "kind_of",
    "malformed_frame",
    "parse_clock_fault",
    "parse_fault",
    "parse_turn_faults",
]


@dataclass(frozen=True)
class SendError:
    code: str
    message: str
    type: str
    param: str | None = None
    event_id: str | None = None  # a literal client event id
    answers: str | None = None  # or: the latest client event of this type


@dataclass(frozen=True)
class Close:
    code: int  # 1006: drop TCP, no close frame
    reason: str = ""


@dataclass(frozen=True)
class Stall:
    ms: int | None  # None: until healed
    pings: bool = True  # pings still answered


@dataclass(frozen=True)
class StallResponse:
    pass


@dataclass(frozen=True)
class Malformed:
    kind: str  # one of MALFORMED_KINDS, or "text"
    text: str = ""


@dataclass(frozen=True)
class UnknownEvent:
    type: str


@dataclass(frozen=True)
class RateLimits:
    exhausted: Literal["requests", "tokens", "both"]
    reset_seconds: float


@dataclass(frozen=True)
class Expire:
    pass


Fault = SendError | Close | Stall | StallResponse | Malformed | UnknownEvent | RateLimits | Expire
At = str | int  # "commit", "created", "done" or an audio delta count >= 1


@dataclass(frozen=True)
class TurnFault:
    fault: Fault
    at: At


@dataclass(frozen=True)
class ClockFault:
    fault: Fault
    after_ms: int


# code -> (error type, message) used when the fault does not say: every code the device
# classifies (device/realtime/ga/errors.py); any other code gets type server_error.
_REQ = "invalid_request_error"
ERROR_DEFAULTS: dict[str, tuple[str, str]] = {
    "conversation_already_has_active_response": (
        _REQ,
        "Conversation already has an active response in progress.",
    ),
    "response_cancel_not_active": (_REQ, "Cancellation failed: no active response found"),
    "input_audio_buffer_commit_empty": (_REQ, "Error committing input audio buffer: too small."),
    "unsupported_content_type": (_REQ, "Only model output audio messages can be truncated"),
    "item_truncate_invalid_item_id": (_REQ, "Item to truncate not found."),
    "item_truncate_invalid_audio_end_ms": (_REQ, "Audio content is already shorter than that."),
    "session_expired": (_REQ, "Your session hit the maximum duration of 60 minutes."),
    "session_closed": (_REQ, "The session was closed."),
    "session_not_found": (_REQ, "Session not found."),
    "invalid_api_key": (_REQ, "Incorrect API key provided."),
    "authentication_error": (_REQ, "Authentication failed."),
    "invalid_authentication": (_REQ, "Invalid authentication."),
    "permission_denied": (_REQ, "You do not have access to this model."),
    "insufficient_permissions": (_REQ, "You have insufficient permissions for this operation."),
    "insufficient_quota": ("insufficient_quota", "You exceeded your current quota."),
    "model_not_found": (_REQ, "The model does not exist or you do not have access to it."),
    "beta_api_shape_disabled": (_REQ, "The beta Realtime API shape is disabled."),
    "unknown_parameter": (_REQ, "Unknown parameter."),
    "missing_required_parameter": (_REQ, "Missing required parameter."),
    "invalid_value": (_REQ, "Invalid value."),
    "invalid_type": (_REQ, "Invalid type."),
    "rate_limit_exceeded": ("tokens", "Rate limit reached. Please try again later."),
    "server_error": ("server_error", "The server had an error while processing your request."),
}

MALFORMED_KINDS = {
    "not_json": "a frame that is not JSON",
    "not_object": "valid JSON that is not an object",
    "deep_nesting": "JSON nested 100,000 deep",
    "huge_integer": "an event with a 5,000-digit integer",
    "bad_utf8": "a text frame whose bytes are not UTF-8 (a strict client closes with 1007)",
    "bad_utf8_binary": "a binary frame of JSON with bytes that are not UTF-8",
    "wrong_types": "an audio delta whose fields have the wrong types",
}
CLOSE_CODES = {1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
FAULT_KEYS = (
    "error",
    "close",
    "drop",
    "stall",
    "stall_response",
    "malformed",
    "unknown_event",
    "rate_limits",
    "expire",
)
_AT_WORDS = ("commit", "created", "done")


def kind_of(fault: Fault) -> str:
    """The fault's key as written (``error``, ``close``, ...)."""
    return {
        SendError: "error",
        Close: "close",
        Stall: "stall",
        StallResponse: "stall_response",
        Malformed: "malformed",
        UnknownEvent: "unknown_event",
        RateLimits: "rate_limits",
        Expire: "expire",
    }[type(fault)]


def malformed_frame(m: Malformed) -> tuple[str | bytes, bool]:
    """The frame to send and whether it goes as a text frame."""
    delta = '{"type":"response.output_audio.delta","event_id":"event_x","response_id":"resp_x",'
    if m.kind == "not_json":
        return "{this is not json", True
    if m.kind == "not_object":
        return '["response.done", 1, 2]', True
    if m.kind == "deep_nesting":
        return '{"type":"error","error":' + "[" * 100_000 + "]" * 100_000 + "}", True
    if m.kind == "huge_integer":
        return delta + '"item_id":"item_x","output_index":' + "9" * 5000 + ',"delta":""}', True
    if m.kind == "bad_utf8":
        return b'{"type":"error","error":{"message":"\xff\xfe bad \xc3\x28"}}', True
    if m.kind == "bad_utf8_binary":
        return b'{"type":"error","error":{"message":"\xff\xfe bad \xc3\x28"}}', False
    if m.kind == "wrong_types":
        return (
            delta.replace('"resp_x"', "42")
            + '"item_id":null,"output_index":"zero","content_index":[],"delta":12345}',
            True,
        )
    return m.text, True


# ---- parsing --------------------------------------------------------------------------------


def _error(value: Any, path: str) -> SendError:
    e = {"code": value} if isinstance(value, str) else mapping(value, path)
    known(e, path, {"code", "message", "type", "param", "event_id", "answers"})
    if "code" not in e:
        raise ScenarioError(f"{path}: missing key 'code'")
    code = text(e["code"], f"{path}.code")
    dtype, dmessage = ERROR_DEFAULTS.get(code, ("server_error", code))
    opt = {k: text(e[k], f"{path}.{k}") for k in ("param", "event_id", "answers") if e.get(k)}
    if "event_id" in opt and "answers" in opt:
        raise ScenarioError(f"{path}: use either 'event_id' or 'answers', not both")
    return SendError(
        code=code,
        message=text(e.get("message", dmessage), f"{path}.message"),
        type=text(e.get("type", dtype), f"{path}.type"),
        **opt,
    )


def _close(value: Any, path: str) -> Close:
    usable = isinstance(value, int) and not isinstance(value, bool)
    if not usable or (value not in CLOSE_CODES and not 3000 <= value <= 4999):
        codes = ", ".join(str(c) for c in sorted(CLOSE_CODES))
        raise ScenarioError(f"{path}: expected a close code ({codes} or 3000-4999), got {value!r}")
    return Close(code=int(value), reason="" if value == 1006 else f"emulator fault: close {value}")


def _stall(value: Any, path: str) -> Stall:
    if not isinstance(value, dict):
        return Stall(ms=integer(value, path, 0, 3_600_000))
    known(value, path, {"ms", "pings"})
    if "ms" not in value:
        raise ScenarioError(f"{path}: missing key 'ms' (null: until healed)")
    ms = None if value["ms"] is None else integer(value["ms"], f"{path}.ms", 0, 3_600_000)
    return Stall(ms=ms, pings=flag(value.get("pings", True), f"{path}.pings"))


def _malformed(value: Any, path: str) -> Malformed | None:
    if value is True:
        return Malformed("not_json")
    if value is False:
        return None
    if isinstance(value, str) and value:
        return Malformed(value) if value in MALFORMED_KINDS else Malformed("text", value)
    kinds = ", ".join(MALFORMED_KINDS)
    raise ScenarioError(
        f"{path}: expected true, a kind ({kinds}) or a frame to send, got {value!r}"
    )


def _rate_limits(value: Any, path: str) -> RateLimits:
    d = mapping(value, path)
    known(d, path, {"exhausted", "reset_seconds"})
    which = d.get("exhausted", "requests")
    if which not in ("requests", "tokens", "both"):
        raise ScenarioError(f"{path}.exhausted: expected requests, tokens or both, got {which!r}")
    reset = d.get("reset_seconds", 60)
    if isinstance(reset, bool) or not isinstance(reset, int | float) or reset < 0:
        raise ScenarioError(f"{path}.reset_seconds: expected a number >= 0, got {reset!r}")
    return RateLimits(exhausted=which, reset_seconds=float(reset))


def _one(key: str, value: Any, path: str) -> Fault | None:
    p = f"{path}.{key}"
    if key == "error":
        return _error(value, p)
    if key == "close":
        return _close(value, p)
    if key == "drop":
        return Close(1006) if flag(value, p) else None
    if key == "stall":
        return _stall(value, p)
    if key == "malformed":
        return _malformed(value, p)
    if key == "unknown_event":
        if value is True:
            return UnknownEvent("response.hologram.delta")
        return None if value is False else UnknownEvent(text(value, p))
    if key == "rate_limits":
        return _rate_limits(value, p)
    if not flag(value, p):  # stall_response, expire: on or off
        return None
    return StallResponse() if key == "stall_response" else Expire()


def faults_in(d: dict[str, Any], path: str) -> list[Fault]:
    """The faults written in mapping ``d`` (its other keys are the caller's business)."""
    found = [_one(k, d[k], path) for k in FAULT_KEYS if k in d]
    return [f for f in found if f is not None]


def parse_turn_faults(d: dict[str, Any], path: str) -> tuple[TurnFault, ...]:
    """A turn's faults with their ``fault_at`` (see the module docstring)."""
    faults = faults_in(d, path)
    at_raw = d.get("fault_at")
    words_ok = isinstance(at_raw, str) and at_raw in _AT_WORDS
    count_ok = isinstance(at_raw, int) and not isinstance(at_raw, bool) and at_raw >= 1
    if at_raw is not None and not (words_ok or count_ok):
        raise ScenarioError(
            f"{path}.fault_at: expected commit, created, done or a delta count >= 1, got {at_raw!r}"
        )
    out = []
    for f in faults:
        at: At = (
            at_raw if at_raw is not None else ("commit" if isinstance(f, SendError) else "created")
        )
        if isinstance(f, StallResponse) and at in ("commit", "done"):
            raise ScenarioError(f"{path}.fault_at: stall_response needs created or a delta count")
        out.append(TurnFault(f, at))
    return tuple(out)


def _single(d: dict[str, Any], path: str) -> Fault:
    found = faults_in(d, path)
    if len(found) != 1:
        raise ScenarioError(f"{path}: expected exactly one of {', '.join(FAULT_KEYS)}")
    return found[0]


def parse_fault(value: Any, path: str) -> Fault:
    """One fault mapping with exactly one fault key, e.g. ``{"close": 1011}``."""
    d = mapping(value, path)
    known(d, path, set(FAULT_KEYS))
    return _single(d, path)


def parse_clock_fault(value: Any, path: str) -> ClockFault:
    """One fault with its ``after_ms`` (from the start of each session)."""
    d = mapping(value, path)
    known(d, path, {*FAULT_KEYS, "after_ms"})
    fault = _single(d, path)
    if "after_ms" not in d:
        raise ScenarioError(f"{path}: missing key 'after_ms'")
    return ClockFault(fault, integer(d["after_ms"], f"{path}.after_ms", 0, 3_600_000))


def parse_text(source: str, path: str) -> Any:
    """A fault or switch given as text (YAML flow or JSON), e.g. ``{close: 1011}``."""
    try:
        return yaml.safe_load(source)
    except yaml.YAMLError:
        raise ScenarioError(f"{path}: not YAML or JSON: {source!r}") from None
