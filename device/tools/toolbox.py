"""The tool box: the configured tools behind the ToolBox protocol of device/tools/base.py.

``run`` never raises and never hangs: unknown tool, call limit, bad arguments, missing
confirmation, timeout, any failure all come back as a ToolResult whose output the model
can speak from. Every call is audited (device/tools/audit.py: each field of the record at
most 4 KB, a cut one named with its size and sha256; the log line at most 300 bytes of each
field, so a server's megabyte of arguments costs neither). The kinds of tool come from
device/tools/registry.py; the network from device/tools/http_client.py.

One visitor, one object: everything a conversation leaves here (call counts, pending
confirmations, the latest audit record) lives in one ``Visit``, replaced whole by
``start_conversation``; nothing of one visitor is visible to the next.

Example::

    box = Toolbox.from_settings(settings.tools, credentials=lambda n: read(n).reveal(),
                                audit_path=settings.tools.audit_log)   # or ConfigError
    box.start_conversation("c1")
    result = await box.run(ToolCall("call_1", "faq", '{"question": "hours"}'), context)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from device.common.problems import ConfigError, is_secret_key
from device.common.text import one_line
from device.tools.audit import AuditLog, bounded, redact
from device.tools.base import ToolAction, ToolCall, ToolContext, ToolResult, ToolSpec
from device.tools.checks import check_tools, credentials_needed
from device.tools.guardrails import (
    CallLimits,
    Confirmations,
    Decision,
    ask_output,
    declined_output,
)
from device.tools.http_client import HttpClient
from device.tools.http_tool import UNAVAILABLE
from device.tools.outcome import Outcome
from device.tools.registry import Runnable, RunnerEnv, kind_of
from device.tools.schema import make_validator, parse_arguments, tool_schema_problems
from device.tools.settings import ToolsSettings

log = logging.getLogger(__name__)

NAME_MAX_CHARS = 64  # of a tool name the server sent, in a log line or the model's answer


@dataclass(slots=True)
class _Tool:
    runnable: Runnable
    validator: Draft202012Validator


@dataclass
class Visit:
    """Everything one conversation leaves in the tool box; ``start_conversation`` replaces it."""

    conversation_id: str | None
    limits: CallLimits
    confirmations: Confirmations
    last_audit: dict[str, Any] | None = None  # the latest audit record (redacted)
    calls: list[str] = field(default_factory=list)  # call ids run, oldest first


def _no_credentials(name: str) -> str:
    raise LookupError(f"credential '{name}' not found: no credential source on this device")


class Toolbox:
    """The configured tools, their guardrails and audit log. Build with ``from_settings``."""

    def __init__(
        self,
        settings: ToolsSettings,
        *,
        audit: AuditLog,
        clock: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._audit = audit
        self._clock = clock
        self._wall = wall_clock
        self._tools: dict[str, _Tool] = {}
        self._http = HttpClient(settings.allow_hosts)
        self._known_secrets: set[str] = set()  # credential values read so far: never logged
        self._visit = self._new_visit(None)

    # -- building ------------------------------------------------------------------------

    @classmethod
    def from_settings(
        cls,
        settings: ToolsSettings,
        *,
        credentials: Callable[[str], str] | None,
        audit_path: Path | None,
        device_name: str = "",
        site: str = "",
    ) -> Toolbox:
        """The tool box for ``settings``; ConfigError (one line per problem) if unusable.

        ``credentials(name)`` returns a credential's value or raises with a one-line
        message; it is called when a tool that needs the credential runs.
        ``device_name`` and ``site`` fill the hand-over when the context has none.
        """
        problems = check_tools(settings) + tool_schema_problems(settings)
        if problems:
            raise ConfigError(problems)
        # httpx logs every request URL (arguments included) at INFO, unredacted: the audit
        # log is the record of tool calls, so keep httpx to warnings
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        box = cls(settings, audit=AuditLog(audit_path))
        env = RunnerEnv(
            allow_hosts=settings.allow_hosts,
            fetch=box._http.fetch,
            credentials=credentials or _no_credentials,
            device_name=device_name,
            site=site,
        )
        for item in settings.items:
            runnable = kind_of(item).build(item, env)
            box._tools[runnable.spec.name] = _Tool(
                runnable, make_validator(runnable.spec.parameters)
            )
        if any(t.runnable.uses_network for t in box._tools.values()):
            box._http.open()  # now, not on the first call: loading CA certificates is slow
        return box

    def _new_visit(self, conversation_id: str | None) -> Visit:
        return Visit(
            conversation_id,
            CallLimits(self.settings.max_calls_per_conversation),
            Confirmations(
                yes_words=self.settings.confirm_yes_words, no_words=self.settings.confirm_no_words
            ),
        )

    # -- the ToolBox protocol ------------------------------------------------------------

    def declarations(self) -> list[ToolSpec]:
        return [t.runnable.spec for t in self._tools.values()]

    def instructions(self) -> str:
        by_kind: dict[str, list[str]] = {}
        for t in self._tools.values():
            by_kind.setdefault(t.runnable.kind, []).append(t.runnable.spec.name)
        confirm = [t.runnable.spec.name for t in self._tools.values() if t.runnable.confirm]
        lines: list[str] = []
        if "faq" in by_kind:
            lines.append(
                f"Answer questions about this place only from {_names(by_kind['faq'])}; never "
                "guess opening hours, directions or policies."
            )
        if confirm:
            lines.append(
                f"Before calling {_names(confirm)}, read the details back to the caller, "
                "numbers digit by digit (4172 as 'four one seven two'), and ask them to "
                "confirm; call it only after they say yes."
            )
        if "escalate" in by_kind:
            lines.append(
                "If the caller asks for a person, or you cannot help, call "
                f"{_names(by_kind['escalate'])} with a short summary."
            )
        if "end_session" in by_kind:
            lines.append(
                "When the caller says goodbye or has nothing more to ask, say a short goodbye, "
                f"then call {_names(by_kind['end_session'])}."
            )
        if self._tools:
            lines.append(
                "If a tool fails, tell the caller briefly in plain words; never read out "
                "error codes, URLs or JSON."
            )
        return " ".join(lines)

    def needs_confirmation(self, name: str) -> bool:
        """True for tools that run only after the caller's spoken yes (``confirm: true``).

        Their check reads the caller's latest utterance from the transcript, so the engine
        should let a pending input transcription land before running them.
        """
        tool = self._tools.get(name)
        return tool is not None and tool.runnable.confirm

    def start_conversation(self, conversation_id: str) -> None:
        self._visit = self._new_visit(conversation_id)

    @property
    def visit(self) -> Visit:
        """The current visitor's state (read-only use: tests, summaries)."""
        return self._visit

    @property
    def last_audit(self) -> dict[str, Any] | None:
        """The current visitor's latest audit record (redacted), or None."""
        return self._visit.last_audit

    async def run(self, call: ToolCall, context: ToolContext) -> ToolResult:
        start = self._clock()
        if context.conversation_id != self._visit.conversation_id:
            self.start_conversation(context.conversation_id)
        visit = self._visit
        arguments: Any = call.arguments
        tool = self._tools.get(call.name)
        try:
            if tool is None:
                known = ", ".join(self._tools) or "none"
                outcome = Outcome(
                    False,
                    f"There is no tool named {one_line(call.name, NAME_MAX_CHARS)} "
                    f"(tools: {known}).",
                    "unknown_tool",
                )
            else:
                outcome, arguments = await self._guarded(visit, tool, call, context)
        except Exception as exc:  # a bug here must not reach the engine
            why = one_line(redact(str(exc), self._known_secrets))
            name = one_line(call.name, NAME_MAX_CHARS)
            log.error("tool %s failed on the device: %s: %s", name, type(exc).__name__, why)
            outcome = Outcome(
                False, f"{call.name} failed on the device. {UNAVAILABLE}", "error", detail=why
            )
        ms = (self._clock() - start) * 1000.0
        self._known_secrets.update(outcome.secrets)
        secrets = self._known_secrets | _secret_arguments(arguments)
        visit.calls.append(call.call_id)
        visit.last_audit = self._write_audit(call, context, arguments, outcome, ms, secrets)
        if not outcome.ok:
            level = logging.WARNING if outcome.status == "invalid_arguments" else logging.INFO
            why = one_line(redact(outcome.detail or outcome.output, secrets))
            log.log(
                level, "tool %s: %s: %s", one_line(call.name, NAME_MAX_CHARS), outcome.status, why
            )
        return ToolResult(
            output=outcome.output,
            ok=outcome.ok,
            ms=ms,
            action=outcome.action,
            prompt=outcome.prompt,
        )

    async def _guarded(
        self, visit: Visit, tool: _Tool, call: ToolCall, context: ToolContext
    ) -> tuple[Outcome, Any]:
        """The outcome and the arguments to audit (parsed if they parsed)."""
        r = tool.runnable
        name = r.spec.name
        refusal = visit.limits.take(name, r.max_calls, counts_to_total=r.counts_to_total)
        if refusal is not None:
            return Outcome(False, refusal, "limit"), call.arguments
        args, error = parse_arguments(tool.validator, name, call.arguments)
        if args is None:
            return Outcome(False, error or "Invalid arguments.", "invalid_arguments"), (
                call.arguments
            )
        if r.confirm:
            match visit.confirmations.check(name, args, context.transcript):
                case Decision.ASK:
                    return Outcome(False, ask_output(name), "needs_confirmation"), args
                case Decision.DECLINED:
                    return Outcome(False, declined_output(name), "declined"), args
        try:
            async with asyncio.timeout(r.deadline_s):
                outcome = await r.execute(args, context)
        except TimeoutError:
            why = f"it did not finish within {r.deadline_s:g} s"
            outcome = Outcome(False, f"{name} failed: {why}. {UNAVAILABLE}", "timeout", detail=why)
        return outcome, args

    def _write_audit(
        self,
        call: ToolCall,
        context: ToolContext,
        arguments: Any,
        outcome: Outcome,
        ms: float,
        secrets: set[str],
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "time": datetime.fromtimestamp(self._wall(), UTC).isoformat(timespec="milliseconds"),
            "conversation_id": context.conversation_id,
            "call_id": call.call_id,
            "tool": call.name,
            "arguments": arguments,
            "status": outcome.status,
            "ok": outcome.ok,
            "ms": round(ms, 2),
        }
        if outcome.detail:
            record["detail"] = outcome.detail
        if outcome.request:
            record["request"] = outcome.request
        if outcome.server_ms is not None:
            record["server_ms"] = round(outcome.server_ms, 3)
        if outcome.action is not ToolAction.CONTINUE:
            record["action"] = outcome.action.value
        self._audit.write(record, secrets)
        return bounded(redact(record, secrets))  # what the file keeps

    async def close(self) -> None:
        await self._http.aclose()


def _secret_arguments(arguments: Any) -> set[str]:
    """Text values of arguments named like secrets, masked wherever else they appear."""
    if not isinstance(arguments, dict):
        return set()
    return {
        str(v)
        for k, v in arguments.items()
        if is_secret_key(str(k)) and isinstance(v, str | int) and len(str(v)) >= 4
    }


def _names(names: list[str]) -> str:
    return " or ".join(names)


__all__ = ["Toolbox", "Visit", "check_tools", "credentials_needed"]
