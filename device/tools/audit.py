"""The tool-call audit log: one JSON object per line, secrets redacted, every field bounded.

A record holds:

- ``time``: UTC, ISO 8601 with milliseconds;
- ``conversation_id``, ``call_id``, ``tool``: which visit, which call (the call id and the
  tool name as the server sent them);
- ``arguments``: the arguments as parsed (a JSON object), or the text the model sent when it
  did not parse;
- ``status`` (ok, error, timeout, invalid_arguments, unknown_tool, limit,
  needs_confirmation, declined, no_match), ``ok`` and ``ms``;
- where there is one: ``detail`` (one line), ``request`` (method, url, header names),
  ``server_ms`` (the server's own time, Server-Timing) and ``action`` (end_session, handover);
- ``cut``, only when a field was cut (below).

Redaction (``redact``, pure): the value of any key named like a secret (token, password,
Authorization...) becomes ``***``, and so does every occurrence of a credential value (also
URL-encoded) anywhere in the record.

Bounds (``bounded``, pure): a field whose text is longer than ``FIELD_MAX_BYTES`` (4096
bytes of UTF-8; a string is its own text, anything else its JSON text) is kept as the first
4096 bytes of that text, and ``cut`` names it with its full size and hash:
``"cut": {"arguments": {"bytes": 1048590, "sha256": "9f86d0..."}}``. The hash is of the
full text after redaction, so it never hashes a secret; for arguments that did not parse
it is the sha256 of the model's own text. A hostile server's megabyte of arguments costs
the file 4 KB, and nothing is silently lost: the size and hash say what was there. The
log line (the journal) is bounded the same way at ``LOG_FIELD_MAX_BYTES`` (300 bytes) per
field and written as one line.

Example::

    log = AuditLog(Path("/var/log/voice-kiosk/tools.jsonl"))
    log.write({"tool": "job_status", "arguments": {"job_id": "4172"}, ...}, secrets=[token])
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from device.common.problems import is_secret_key
from device.common.text import one_line

log = logging.getLogger(__name__)

MASK = "***"
FIELD_MAX_BYTES = 4096  # of one field's text, in the audit file
LOG_FIELD_MAX_BYTES = 300  # of one field's text, in the log line
LOG_LINE_MAX_CHARS = 8000  # the whole log line, a last guard (fields are bounded already)


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` (JSON-like) with secret-named keys' values and credential values masked."""
    variants = {v for s in secrets if s for v in (s, quote(s, safe=""), quote_plus(s))}
    known = sorted(variants, key=len, reverse=True)
    return _redact(value, known)


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, dict):
        return {
            str(k): MASK if is_secret_key(str(k)) else _redact(v, secrets) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def bounded(record: dict[str, Any], max_bytes: int = FIELD_MAX_BYTES) -> dict[str, Any]:
    """``record`` with each field longer than ``max_bytes`` cut, and ``cut`` saying so.

    A cut field keeps the first ``max_bytes`` of its text (never half a character);
    ``cut[field]`` holds the full text's size in bytes and its sha256 (hex).
    """
    out: dict[str, Any] = {}
    cut: dict[str, dict[str, Any]] = {}
    for key, value in record.items():
        if key == "cut":
            continue
        data = _text(value).encode("utf-8", "surrogatepass")
        if len(data) <= max_bytes:
            out[key] = value
            continue
        out[key] = data[:max_bytes].decode("utf-8", "ignore")
        cut[key] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if cut:
        out["cut"] = cut
    return out


def audit_line(
    record: dict[str, Any], secrets: Iterable[str] = (), max_field_bytes: int = FIELD_MAX_BYTES
) -> str:
    """The redacted, bounded record as one line of JSON (no newline), valid UTF-8.

    A lone surrogate (JSON allows ``"\\ud800"``; UTF-8 has no such character) stays the
    JSON escape it came as; U+2028 and U+2029, which some readers take for line breaks,
    are written as their JSON escapes too, so one record is always one line.
    """
    line = json.dumps(
        bounded(redact(record, secrets), max_field_bytes), ensure_ascii=False, default=str
    )
    line = line.encode("utf-8", "backslashreplace").decode("utf-8")
    return line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class AuditLog:
    """Appends audit lines to a file (created 0640 if missing); None path: journal only.

    A write failure is logged once and never fails the tool call.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._warned = False

    def write(self, record: dict[str, Any], secrets: Iterable[str] = ()) -> str:
        """Append the record (redacted, bounded); the line written, without its newline."""
        line = audit_line(record, secrets)
        short = audit_line(record, secrets, LOG_FIELD_MAX_BYTES)
        log.info("tool audit: %s", one_line(short, LOG_LINE_MAX_CHARS))
        if self.path is None:
            return line
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as exc:
            if not self._warned:
                log.warning("cannot write the tool audit log %s: %s", self.path, exc.strerror)
                self._warned = True
        return line
