"""GA error codes to the device's `ErrorKind` and `Severity` (pure).

==========================================  ================  =========  ===================
code                                        kind              severity   the device...
==========================================  ================  =========  ===================
conversation_already_has_active_response    REPLY_BUSY        harmless   re-queues its own
                                                                         request, if wanted
response_cancel_not_active                  NOTHING_TO_CANCEL harmless   ignores it
input_audio_buffer_commit_empty             EMPTY_COMMIT      harmless   ignores it
unsupported_content_type, item_truncate_*   TRUNCATE_REFUSED  harmless   ignores it
session_expired, session_closed,            SESSION_ENDED     session    ends the session
session_not_found
invalid_api_key, authentication_error,      AUTH              fatal      stops: an operator
invalid_authentication, permission_denied,                               must fix it
insufficient_permissions, insufficient_quota
model_not_found, beta_api_shape_disabled,   BAD_SETTINGS      fatal      stops
unknown_parameter, missing_required_parameter
invalid_value, invalid_type                 BAD_SETTINGS      fatal      when ``param`` names
                                                                         a session field
invalid_value, invalid_type (other param)   OTHER             harmless   e.g. a bad truncate
rate_limit_exceeded                         RATE_LIMITED      harmless   backs off
server_error                                SERVER            harmless   goes on
anything else, or no code                   OTHER             harmless   goes on (logged)
==========================================  ================  =========  ===================

Unknown codes default to harmless: most errors leave the session open, and a fatal verdict
on a new code would stop a working kiosk.
"""

from __future__ import annotations

from device.realtime.events import ErrorKind, Severity

_KINDS: dict[str, tuple[ErrorKind, Severity]] = {
    "conversation_already_has_active_response": (ErrorKind.REPLY_BUSY, Severity.HARMLESS),
    "response_cancel_not_active": (ErrorKind.NOTHING_TO_CANCEL, Severity.HARMLESS),
    "input_audio_buffer_commit_empty": (ErrorKind.EMPTY_COMMIT, Severity.HARMLESS),
    "unsupported_content_type": (ErrorKind.TRUNCATE_REFUSED, Severity.HARMLESS),
    "item_truncate_invalid_item_id": (ErrorKind.TRUNCATE_REFUSED, Severity.HARMLESS),
    "item_truncate_invalid_audio_end_ms": (ErrorKind.TRUNCATE_REFUSED, Severity.HARMLESS),
    "session_expired": (ErrorKind.SESSION_ENDED, Severity.SESSION),
    "session_closed": (ErrorKind.SESSION_ENDED, Severity.SESSION),
    "session_not_found": (ErrorKind.SESSION_ENDED, Severity.SESSION),
    "invalid_api_key": (ErrorKind.AUTH, Severity.FATAL),
    "authentication_error": (ErrorKind.AUTH, Severity.FATAL),
    "invalid_authentication": (ErrorKind.AUTH, Severity.FATAL),
    "permission_denied": (ErrorKind.AUTH, Severity.FATAL),
    "insufficient_permissions": (ErrorKind.AUTH, Severity.FATAL),
    "insufficient_quota": (ErrorKind.AUTH, Severity.FATAL),
    "model_not_found": (ErrorKind.BAD_SETTINGS, Severity.FATAL),
    "beta_api_shape_disabled": (ErrorKind.BAD_SETTINGS, Severity.FATAL),
    "unknown_parameter": (ErrorKind.BAD_SETTINGS, Severity.FATAL),
    "missing_required_parameter": (ErrorKind.BAD_SETTINGS, Severity.FATAL),
    "rate_limit_exceeded": (ErrorKind.RATE_LIMITED, Severity.HARMLESS),
    "server_error": (ErrorKind.SERVER, Severity.HARMLESS),
}
_PARAM_CODES = frozenset({"invalid_value", "invalid_type"})


def is_known(code: str | None) -> bool:
    return code is None or code in _KINDS or code in _PARAM_CODES


def classify_error(code: str | None, *, param: str | None = None) -> tuple[ErrorKind, Severity]:
    """The kind and severity of a GA ``error`` event's code (see the module table)."""
    if code is None:
        return ErrorKind.OTHER, Severity.HARMLESS
    if code in _KINDS:
        return _KINDS[code]
    if code in _PARAM_CODES and (param or "").startswith("session"):
        return ErrorKind.BAD_SETTINGS, Severity.FATAL
    return ErrorKind.OTHER, Severity.HARMLESS
