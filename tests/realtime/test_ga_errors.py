"""GA error codes to the device's error kind and severity (the table in ga/errors.py)."""

from __future__ import annotations

import pytest

from device.realtime.events import ErrorKind, Severity
from device.realtime.ga.errors import classify_error, is_known

HARMLESS, SESSION, FATAL = Severity.HARMLESS, Severity.SESSION, Severity.FATAL

TABLE: list[tuple[str | None, str | None, ErrorKind, Severity]] = [
    ("conversation_already_has_active_response", None, ErrorKind.REPLY_BUSY, HARMLESS),
    ("response_cancel_not_active", None, ErrorKind.NOTHING_TO_CANCEL, HARMLESS),
    ("input_audio_buffer_commit_empty", None, ErrorKind.EMPTY_COMMIT, HARMLESS),
    ("unsupported_content_type", None, ErrorKind.TRUNCATE_REFUSED, HARMLESS),
    ("item_truncate_invalid_item_id", None, ErrorKind.TRUNCATE_REFUSED, HARMLESS),
    ("item_truncate_invalid_audio_end_ms", None, ErrorKind.TRUNCATE_REFUSED, HARMLESS),
    ("invalid_value", "audio_end_ms", ErrorKind.OTHER, HARMLESS),  # a truncate past the audio
    ("invalid_type", "item.call_id", ErrorKind.OTHER, HARMLESS),
    ("invalid_value", None, ErrorKind.OTHER, HARMLESS),
    ("session_expired", None, ErrorKind.SESSION_ENDED, SESSION),
    ("session_closed", None, ErrorKind.SESSION_ENDED, SESSION),
    ("session_not_found", None, ErrorKind.SESSION_ENDED, SESSION),
    ("invalid_api_key", None, ErrorKind.AUTH, FATAL),
    ("authentication_error", None, ErrorKind.AUTH, FATAL),
    ("invalid_authentication", None, ErrorKind.AUTH, FATAL),
    ("permission_denied", None, ErrorKind.AUTH, FATAL),
    ("insufficient_permissions", None, ErrorKind.AUTH, FATAL),
    ("insufficient_quota", None, ErrorKind.AUTH, FATAL),
    ("model_not_found", None, ErrorKind.BAD_SETTINGS, FATAL),
    ("beta_api_shape_disabled", None, ErrorKind.BAD_SETTINGS, FATAL),
    ("unknown_parameter", "session.modalities", ErrorKind.BAD_SETTINGS, FATAL),
    ("missing_required_parameter", "session.type", ErrorKind.BAD_SETTINGS, FATAL),
    ("invalid_value", "session.audio.output.voice", ErrorKind.BAD_SETTINGS, FATAL),
    ("invalid_type", "session.audio.output.speed", ErrorKind.BAD_SETTINGS, FATAL),
    ("rate_limit_exceeded", None, ErrorKind.RATE_LIMITED, HARMLESS),
    ("server_error", None, ErrorKind.SERVER, HARMLESS),
    ("brand_new_code", None, ErrorKind.OTHER, HARMLESS),  # unknown: never stops a kiosk
    ("brand_new_code", "session.voice", ErrorKind.OTHER, HARMLESS),
    (None, None, ErrorKind.OTHER, HARMLESS),
]


@pytest.mark.parametrize(
    ("code", "param", "kind", "severity"),
    TABLE,
    ids=[f"{c}-{p}" for c, p, _, _ in TABLE],
)
def test_classify_error(
    code: str | None, param: str | None, kind: ErrorKind, severity: Severity
) -> None:
    assert classify_error(code, param=param) == (kind, severity)


def test_known_codes_are_the_classified_ones() -> None:
    assert all(is_known(code) for code, _, kind, _ in TABLE if kind is not ErrorKind.OTHER)
    assert is_known("invalid_value") and is_known(None)
    assert not is_known("brand_new_code")
