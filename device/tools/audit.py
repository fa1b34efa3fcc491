"""The tool-call audit log: one JSON object per line, secrets redacted.

Each record holds ``time`` (UTC, ISO 8601), ``conversation_id``, ``call_id``, ``tool``,
``arguments``, ``status`` (ok, error, invalid_arguments, unknown_tool, limit,
needs_confirmation, declined, no_match), ``ms`` and, where there is one, ``detail`` (one
line) and ``request`` (method, url, header names). Redaction (``redact``, pure): the value
of any key named like a secret (token, password, Authorization...) becomes ``***``, and so
does every occurrence of a credential value (also URL-encoded) anywhere in the record.

Example::

    log = AuditLog(Path("/var/log/voice-kiosk/tools.jsonl"))
    log.write({"tool": "job_status", "arguments": {"job_id": "4172"}, ...}, secrets=[token])
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from device.common.problems import is_secret_key

log = logging.getLogger(__name__)

MASK = "***"


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


def audit_line(record: dict[str, Any], secrets: Iterable[str] = ()) -> str:
    """The redacted record as one line of JSON (no newline)."""
    return json.dumps(redact(record, secrets), ensure_ascii=False, default=str)


class AuditLog:
    """Appends audit lines to a file (created 0640 if missing); None path: journal only.

    A write failure is logged once and never fails the tool call.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._warned = False

    def write(self, record: dict[str, Any], secrets: Iterable[str] = ()) -> str:
        line = audit_line(record, secrets)
        log.info("tool audit: %s", line)
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
