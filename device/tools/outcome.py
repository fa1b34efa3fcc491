"""What one tool run produced, before the tool box turns it into a ToolResult and an audit line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from device.tools.base import ToolAction


@dataclass(slots=True)
class Outcome:
    ok: bool
    output: str  # for the model: one line it can speak from
    status: str  # audit status: ok, error, refused, no_match...
    action: ToolAction = ToolAction.CONTINUE
    prompt: str | None = None
    detail: str | None = None  # one line for the log and the audit (never a secret)
    request: dict[str, Any] | None = None  # method, url, header names
    server_ms: float | None = None  # the server's own handling time (Server-Timing)
    secrets: list[str] = field(default_factory=list)  # credential values used: redact them
