"""The tool kinds, each declared in one place: its settings type, its config-time check, its
declaration for the model and its runner factory. Pure (no httpx, asyncio or jsonschema):
runners get the network as an injected ``Fetch``.

A new kind is a settings dataclass in device/tools/settings.py (added to ``ToolItem``) and
one ``ToolKind`` in ``KINDS``; the checks and the tool box find it here.

Example::

    kind = kind_of(item)                       # the ToolKind of a configured tool
    problems = kind.check(item, "tools.items[0]", allow_hosts)
    tool = kind.build(item, env)               # a Runnable: spec, execute, deadline...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from device.tools import faq as faq_mod
from device.tools.base import ToolAction, ToolContext, ToolSpec
from device.tools.escalate import PARAMETERS as ESCALATE_PARAMETERS
from device.tools.escalate import EscalateRunner, check_escalate, prompt_problem
from device.tools.http_tool import Credentials, Fetch, HttpRunner, check_http, plain_json
from device.tools.outcome import Outcome
from device.tools.settings import EndSessionTool, EscalateTool, FaqTool, HttpTool

Execute = Callable[[dict[str, Any], ToolContext], Awaitable[Outcome]]

LOCAL_DEADLINE_S = 1.0  # faq and end_session: no I/O, so this only catches bugs
GRACE_S = 0.25  # on top of an HTTP tool's own timeout_s
END_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": {"type": "string", "description": "Why, in a few words."}},
}


@dataclass(frozen=True)
class RunnerEnv:
    """What runners may use: the allowlist, the network, credentials, who the device is."""

    allow_hosts: tuple[str, ...]
    fetch: Fetch
    credentials: Credentials
    device_name: str = ""
    site: str = ""


@dataclass(frozen=True)
class Runnable:
    """One configured tool, ready for the tool box to run under its guardrails."""

    spec: ToolSpec
    kind: str
    execute: Execute
    deadline_s: float
    confirm: bool = False
    max_calls: int | None = None
    counts_to_total: bool = True  # counts to max_calls_per_conversation
    uses_network: bool = False


@dataclass(frozen=True)
class ToolKind:
    name: str  # the `kind:` in YAML
    settings: type
    check: Callable[[Any, str, tuple[str, ...]], list[str]]  # (item, key path, allow_hosts)
    declare: Callable[[Any], ToolSpec]
    build: Callable[[Any, RunnerEnv], Runnable]


# -- faq -------------------------------------------------------------------------------------


def _faq_spec(item: FaqTool) -> ToolSpec:
    return ToolSpec(item.name, item.description, faq_mod.PARAMETERS)


def _faq_build(item: FaqTool, _env: RunnerEnv) -> Runnable:
    faq = faq_mod.Faq([(e.keywords, e.answer) for e in item.entries], min_score=item.min_score)

    async def execute(args: dict[str, Any], _context: ToolContext) -> Outcome:
        found = faq.answer(str(args.get("question", "")))
        return Outcome(True, found.text, "ok" if found.matched else "no_match")

    return Runnable(_faq_spec(item), "faq", execute, LOCAL_DEADLINE_S, max_calls=item.max_calls)


# -- http ------------------------------------------------------------------------------------


def _http_spec(item: HttpTool) -> ToolSpec:
    return ToolSpec(item.name, item.description, plain_json(item.parameters))


def _http_build(item: HttpTool, env: RunnerEnv) -> Runnable:
    runner = HttpRunner(
        item, allow_hosts=env.allow_hosts, fetch=env.fetch, credentials=env.credentials
    )

    async def execute(args: dict[str, Any], _context: ToolContext) -> Outcome:
        return await runner.run(args)

    return Runnable(
        _http_spec(item),
        "http",
        execute,
        item.timeout_s + GRACE_S,
        confirm=item.confirm,
        max_calls=item.max_calls,
        uses_network=True,
    )


# -- escalate --------------------------------------------------------------------------------


def _escalate_spec(item: EscalateTool) -> ToolSpec:
    return ToolSpec(item.name, item.description, ESCALATE_PARAMETERS)


def _escalate_build(item: EscalateTool, env: RunnerEnv) -> Runnable:
    runner = EscalateRunner(
        item, allow_hosts=env.allow_hosts, fetch=env.fetch, credentials=env.credentials
    )

    async def execute(args: dict[str, Any], context: ToolContext) -> Outcome:
        if not (context.device_name or context.site):
            context = ToolContext(
                context.conversation_id, context.transcript, env.device_name, env.site
            )
        return await runner.run(args, context)

    return Runnable(
        _escalate_spec(item),
        "escalate",
        execute,
        item.timeout_s + GRACE_S,
        max_calls=item.max_calls,
        counts_to_total=False,
        uses_network=True,
    )


# -- end_session -----------------------------------------------------------------------------


def _end_check(item: EndSessionTool, where: str, _allow_hosts: tuple[str, ...]) -> list[str]:
    why = prompt_problem(item.prompt)
    return [f"{where}.prompt: {why}"] if why else []


def _end_spec(item: EndSessionTool) -> ToolSpec:
    return ToolSpec(item.name, item.description, END_PARAMETERS)


def _end_build(item: EndSessionTool, _env: RunnerEnv) -> Runnable:
    prompt = item.prompt

    async def execute(_args: dict[str, Any], _context: ToolContext) -> Outcome:
        return Outcome(
            True,
            "The conversation ends once your goodbye has played; say nothing more.",
            "ok",
            action=ToolAction.END,
            prompt=prompt,
        )

    return Runnable(
        _end_spec(item), "end_session", execute, LOCAL_DEADLINE_S, counts_to_total=False
    )


KINDS: tuple[ToolKind, ...] = (
    ToolKind("faq", FaqTool, faq_mod.check_faq, _faq_spec, _faq_build),
    ToolKind("http", HttpTool, check_http, _http_spec, _http_build),
    ToolKind("escalate", EscalateTool, check_escalate, _escalate_spec, _escalate_build),
    ToolKind("end_session", EndSessionTool, _end_check, _end_spec, _end_build),
)
_BY_SETTINGS = {kind.settings: kind for kind in KINDS}


def kind_of(item: Any) -> ToolKind:
    """The ToolKind of a configured tool; TypeError for settings no kind declares."""
    try:
        return _BY_SETTINGS[type(item)]
    except KeyError:
        raise TypeError(f"unknown tool settings {type(item).__name__}") from None
