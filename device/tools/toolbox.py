"""The tool box: the configured tools behind the ToolBox protocol of device/tools/base.py.

``run`` never raises and never hangs: unknown tool, call limit, bad arguments, missing
confirmation, timeout, any failure all come back as a ToolResult whose output the model
can speak from. Every call is audited (device/tools/audit.py).

Example::

    box = Toolbox.from_settings(settings.tools, credentials=lambda n: read(n).reveal(),
                                audit_path=settings.tools.audit_log)   # or ConfigError
    box.start_conversation("c1")
    result = await box.run(ToolCall("call_1", "faq", '{"question": "hours"}'), context)
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from jsonschema import Draft202012Validator

from device.config import ConfigError, is_secret_key
from device.tools import faq as faq_mod
from device.tools.audit import AuditLog, redact
from device.tools.base import ToolAction, ToolCall, ToolContext, ToolResult
from device.tools.escalate import PARAMETERS as ESCALATE_PARAMETERS
from device.tools.escalate import EscalateRunner
from device.tools.guardrails import (
    CallLimits,
    Confirmations,
    Decision,
    ask_output,
    declined_output,
    make_validator,
    parse_arguments,
    schema_problem,
)
from device.tools.http_tool import (
    UNAVAILABLE,
    HttpRunner,
    checked_url,
    credential_names,
    placeholders,
)
from device.tools.outcome import Outcome
from device.tools.settings import (
    EndSessionTool,
    EscalateTool,
    FaqTool,
    Header,
    HttpTool,
    ToolsSettings,
)

log = logging.getLogger(__name__)

_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CREDENTIAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}
_END_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": {"type": "string", "description": "Why, in a few words."}},
}
_LOCAL_DEADLINE_S = 1.0  # faq and end_session: no I/O, so this only catches bugs
_GRACE_S = 0.25  # on top of an HTTP tool's own timeout_s

Execute = Callable[[dict[str, Any], ToolContext], Awaitable[Outcome]]


@dataclass(slots=True)
class _Tool:
    name: str
    kind: str
    description: str
    parameters: dict[str, Any]
    validator: Draft202012Validator
    execute: Execute
    deadline_s: float
    confirm: bool = False
    max_calls: int | None = None
    counts_to_total: bool = True

    def declaration(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }


def _no_credentials(name: str) -> str:
    raise LookupError(f"credential '{name}' not found: no credential source on this device")


def _contains_ellipsis(value: Any) -> bool:
    if value is ...:
        return True
    if isinstance(value, dict):
        return any(_contains_ellipsis(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_contains_ellipsis(v) for v in value)
    return False


def _plain(value: Any) -> Any:
    """Tuples (from YAML lists) as lists, so the schema is plain JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Toolbox:
    """The configured tools, their guardrails and audit log. Build with ``from_settings``."""

    def __init__(
        self,
        settings: ToolsSettings,
        *,
        audit: AuditLog,
        device_name: str = "",
        site: str = "",
        clock: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._device_name = device_name
        self._site = site
        self._audit = audit
        self._clock = clock
        self._wall = wall_clock
        self._tools: dict[str, _Tool] = {}
        self._limits = CallLimits(settings.max_calls_per_conversation)
        self._confirmations = Confirmations(
            yes_words=settings.confirm_yes_words, no_words=settings.confirm_no_words
        )
        self._conversation: str | None = None
        self._client: httpx.AsyncClient | None = None
        self._known_secrets: set[str] = set()  # credential values read so far: never logged
        self.last_audit: dict[str, Any] | None = None  # the latest audit record (redacted)

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
        problems = check_tools(settings)
        if problems:
            raise ConfigError(problems)
        # httpx logs every request URL (arguments included) at INFO, unredacted: the audit
        # log is the record of tool calls, so keep httpx to warnings
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        box = cls(settings, audit=AuditLog(audit_path), device_name=device_name, site=site)
        creds = credentials or _no_credentials
        for item in settings.items:
            box._add(item, creds)
        if any(t.kind in ("http", "escalate") for t in box._tools.values()):
            box._http_client()  # now, not on the first call: loading CA certificates is slow
        return box

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            # no proxies from the environment, no redirects: the allowlist sees every host
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        return self._client

    def _add(self, item: Any, credentials: Callable[[str], str]) -> None:
        hosts = self.settings.allow_hosts
        match item:
            case FaqTool():
                faq = faq_mod.Faq(
                    [(e.keywords, e.answer) for e in item.entries], min_score=item.min_score
                )
                tool = _Tool(
                    item.name,
                    "faq",
                    item.description,
                    faq_mod.PARAMETERS,
                    make_validator(faq_mod.PARAMETERS),
                    _faq_execute(faq),
                    _LOCAL_DEADLINE_S,
                    max_calls=item.max_calls,
                )
            case HttpTool():
                runner = HttpRunner(
                    item, allow_hosts=hosts, client=self._http_client, credentials=credentials
                )
                params = _plain(item.parameters)
                tool = _Tool(
                    item.name,
                    "http",
                    item.description,
                    params,
                    make_validator(params),
                    _http_execute(runner),
                    item.timeout_s + _GRACE_S,
                    confirm=item.confirm,
                    max_calls=item.max_calls,
                )
            case EscalateTool():
                esc = EscalateRunner(
                    item, allow_hosts=hosts, client=self._http_client, credentials=credentials
                )
                tool = _Tool(
                    item.name,
                    "escalate",
                    item.description,
                    ESCALATE_PARAMETERS,
                    make_validator(ESCALATE_PARAMETERS),
                    self._escalate_execute(esc),
                    item.timeout_s + _GRACE_S,
                    max_calls=item.max_calls,
                    counts_to_total=False,
                )
            case EndSessionTool():
                tool = _Tool(
                    item.name,
                    "end_session",
                    item.description,
                    _END_PARAMETERS,
                    make_validator(_END_PARAMETERS),
                    _end_execute(item.prompt),
                    _LOCAL_DEADLINE_S,
                    counts_to_total=False,
                )
            case _:
                raise TypeError(f"unknown tool settings {type(item).__name__}")
        self._tools[tool.name] = tool

    def _escalate_execute(self, runner: EscalateRunner) -> Execute:
        async def execute(args: dict[str, Any], context: ToolContext) -> Outcome:
            if not (context.device_name or context.site):
                context = ToolContext(
                    context.conversation_id, context.transcript, self._device_name, self._site
                )
            return await runner.run(args, context)

        return execute

    # -- the ToolBox protocol ------------------------------------------------------------

    def declarations(self) -> list[dict[str, Any]]:
        return [t.declaration() for t in self._tools.values()]

    def instructions(self) -> str:
        by_kind: dict[str, list[str]] = {}
        for t in self._tools.values():
            by_kind.setdefault(t.kind, []).append(t.name)
        confirm = [t.name for t in self._tools.values() if t.confirm]
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
        return tool is not None and tool.confirm

    def start_conversation(self, conversation_id: str) -> None:
        self._conversation = conversation_id
        self._limits.start()
        self._confirmations.start()

    async def run(self, call: ToolCall, context: ToolContext) -> ToolResult:
        start = self._clock()
        if context.conversation_id != self._conversation:
            self.start_conversation(context.conversation_id)
        arguments: Any = call.arguments
        tool = self._tools.get(call.name)
        try:
            if tool is None:
                known = ", ".join(self._tools) or "none"
                outcome = Outcome(
                    False,
                    f"There is no tool named {call.name} (tools: {known}).",
                    "unknown_tool",
                )
            else:
                outcome, arguments = await self._guarded(tool, call, context)
        except Exception as exc:  # a bug here must not reach the engine
            why = redact(str(exc), self._known_secrets)
            log.error("tool %s failed on the device: %s: %s", call.name, type(exc).__name__, why)
            outcome = Outcome(
                False, f"{call.name} failed on the device. {UNAVAILABLE}", "error", detail=why
            )
        ms = (self._clock() - start) * 1000.0
        self._known_secrets.update(outcome.secrets)
        secrets = self._known_secrets | _secret_arguments(arguments)
        self._write_audit(call, context, arguments, outcome, ms, secrets)
        if not outcome.ok:
            level = logging.WARNING if outcome.status == "invalid_arguments" else logging.INFO
            why = redact(outcome.detail or outcome.output, secrets)
            log.log(level, "tool %s: %s: %s", call.name, outcome.status, why)
        return ToolResult(
            output=outcome.output,
            ok=outcome.ok,
            ms=ms,
            action=outcome.action,
            prompt=outcome.prompt,
        )

    async def _guarded(
        self, tool: _Tool, call: ToolCall, context: ToolContext
    ) -> tuple[Outcome, Any]:
        """The outcome and the arguments to audit (parsed if they parsed)."""
        refusal = self._limits.take(tool.name, tool.max_calls, counts_to_total=tool.counts_to_total)
        if refusal is not None:
            return Outcome(False, refusal, "limit"), call.arguments
        args, error = parse_arguments(tool.validator, tool.name, call.arguments)
        if args is None:
            return Outcome(False, error or "Invalid arguments.", "invalid_arguments"), (
                call.arguments
            )
        if tool.confirm:
            match self._confirmations.check(tool.name, args, context.transcript):
                case Decision.ASK:
                    return Outcome(False, ask_output(tool.name), "needs_confirmation"), args
                case Decision.DECLINED:
                    return Outcome(False, declined_output(tool.name), "declined"), args
        try:
            async with asyncio.timeout(tool.deadline_s):
                outcome = await tool.execute(args, context)
        except TimeoutError:
            why = f"it did not finish within {tool.deadline_s:g} s"
            outcome = Outcome(
                False, f"{tool.name} failed: {why}. {UNAVAILABLE}", "timeout", detail=why
            )
        return outcome, args

    def _write_audit(
        self,
        call: ToolCall,
        context: ToolContext,
        arguments: Any,
        outcome: Outcome,
        ms: float,
        secrets: set[str],
    ) -> None:
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
        self.last_audit = redact(record, secrets)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


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


def _http_execute(runner: HttpRunner) -> Execute:
    async def execute(args: dict[str, Any], _context: ToolContext) -> Outcome:
        return await runner.run(args)

    return execute


def _faq_execute(faq: faq_mod.Faq) -> Execute:
    async def execute(args: dict[str, Any], _context: ToolContext) -> Outcome:
        found = faq.answer(str(args.get("question", "")))
        return Outcome(True, found.text, "ok" if found.matched else "no_match")

    return execute


def _end_execute(prompt: str | None) -> Execute:
    async def execute(_args: dict[str, Any], _context: ToolContext) -> Outcome:
        return Outcome(
            True,
            "The conversation ends once your goodbye has played; say nothing more.",
            "ok",
            action=ToolAction.END,
            prompt=prompt,
        )

    return execute


# -- config checks (pure) -----------------------------------------------------------------


def check_tools(settings: ToolsSettings) -> list[str]:
    """Problems the loader cannot see, one line each, named by key path."""
    problems: list[str] = []
    for i, host in enumerate(settings.allow_hosts):
        if not host.strip() or "/" in host or ":" in host.replace("::", ""):
            problems.append(
                f"tools.allow_hosts[{i}]: must be a host name like jobs.example.com "
                f"(no scheme, port or path) (got {host!r})"
            )
    if not any(w.strip() for w in settings.confirm_yes_words):
        problems.append("tools.confirm_yes_words: must hold at least one word")
    seen: dict[str, int] = {}
    for i, item in enumerate(settings.items):
        where = f"tools.items[{i}]"
        if not _TOOL_NAME.fullmatch(item.name):
            problems.append(
                f"{where}.name: must be 1-64 letters, digits, _ or - (got {item.name!r})"
            )
        if item.name in seen:
            problems.append(f"{where}.name: {item.name} is already tools.items[{seen[item.name]}]")
        seen.setdefault(item.name, i)
        match item:
            case FaqTool():
                problems += _check_faq(item, where)
            case HttpTool():
                problems += _check_http(item, where, settings.allow_hosts)
            case EscalateTool():
                _, why = checked_url(item.webhook_url, settings.allow_hosts)
                if why:
                    problems.append(f"{where}.webhook_url: {why}")
                problems += _check_headers(item.headers, where)
    return problems


def _check_faq(item: FaqTool, where: str) -> list[str]:
    problems = []
    if not item.entries:
        problems.append(f"{where}.entries: add at least one entry (keywords and an answer)")
    for j, entry in enumerate(item.entries):
        if not any(faq_mod.words(k) for k in entry.keywords):
            problems.append(f"{where}.entries[{j}].keywords: must hold at least one word")
        if not entry.answer.strip():
            problems.append(f"{where}.entries[{j}].answer: must not be empty")
    return problems


def _check_http(item: HttpTool, where: str, allow_hosts: tuple[str, ...]) -> list[str]:
    problems = []
    params = _plain(item.parameters)
    if _contains_ellipsis(params):
        problems.append(f"{where}.parameters: nested too deeply to load")
        return problems
    why = schema_problem(params)
    if why:
        problems.append(f"{where}.parameters: {why}")
    properties = params.get("properties") if isinstance(params.get("properties"), dict) else {}
    for name in placeholders(item.url):
        if name not in (properties or {}):
            problems.append(f"{where}.url: placeholder {{{name}}} is not a property of parameters")
    parts = urlsplit(item.url)
    if "{" in parts.netloc:  # the host comes from the arguments: checked when the tool runs
        scheme_ok = parts.scheme in ("http", "https")
        why = None if scheme_ok else f"only http and https URLs are allowed (got {parts.scheme})"
    else:
        _, why = checked_url(re.sub(r"\{[^{}]*\}", "x", item.url), allow_hosts)
    if why:
        problems.append(f"{where}.url: {why}")
    problems += _check_headers(item.headers, where)
    for j, path in enumerate(item.select):
        if not path or any(not part for part in path.split(".")):
            problems.append(f"{where}.select[{j}]: must be a dotted path like status or job.eta")
    return problems


def _check_headers(headers: tuple[Header, ...], where: str) -> list[str]:
    problems = []
    for j, header in enumerate(headers):
        names = credential_names(header.value)
        bad = [n for n in names if not _CREDENTIAL_NAME.fullmatch(n)]
        if bad:
            problems.append(
                f"{where}.headers[{j}].value: credential name {bad[0]!r} is not valid: use "
                "letters, digits, '.', '-' and '_'"
            )
        secret = is_secret_key(header.name) or header.name.lower() in _SECRET_HEADERS
        if secret and not names:
            problems.append(
                f"{where}.headers[{j}].value: a {header.name} header must take its secret from "
                "a credential, e.g. 'Bearer {credential:NAME}'; secrets never go in YAML"
            )
    return problems


def credentials_needed(settings: ToolsSettings) -> list[str]:
    """Every credential name the configured tools use (for a start-up check)."""
    names: list[str] = []
    for item in settings.items:
        for header in getattr(item, "headers", ()):
            names += [n for n in credential_names(header.value) if n not in names]
    return names


__all__ = ["Toolbox", "check_tools", "credentials_needed"]
