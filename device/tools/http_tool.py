"""HTTP tools: a JSON API on an allowed host, bounded in time and size. Pure: the request
itself goes through an injected ``Fetch`` (device/tools/http_client.py is the real one).

Rules, in order: ``{arg}`` placeholders of the URL are filled from the arguments,
URL-encoded (``/`` too); the final URL must pass ``url_problem`` (http(s), host on the
allowlist) or no request is made; ``{credential:NAME}`` in header values is replaced by the
credential, read now; answers must be 2xx, at most ``max_answer_bytes``, and JSON.
Arguments not used in the URL go in the query string (GET, DELETE) or as a JSON body.
Every failure becomes an ``Outcome`` with ok=False and one line the model can speak from.

``check_http`` is the config-time check of one ``HttpTool`` (pure, no jsonschema).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from device.common.problems import is_secret_header
from device.tools.http_rules import (
    CREDENTIAL,
    fill_url,
    header_problems,
    placeholders,
    template_problems,
    text_of,
    url_problem,
    with_query,
)
from device.tools.outcome import Outcome
from device.tools.settings import Header, HttpTool

log = logging.getLogger(__name__)

MAX_OUTPUT_CHARS = 4000
UNAVAILABLE = "Tell the caller it is not available right now and offer other help."

Credentials = Callable[[str], str]


@dataclass(slots=True)
class Fetched:
    """An HTTP exchange: either ``error`` (one line) or a status and the body."""

    error: str | None = None
    status: int = 0
    reason: str = ""
    body: bytes = b""
    server_ms: float | None = None
    timed_out: bool = False


class Fetch(Protocol):
    """One request bounded by ``timeout_s`` overall and ``max_bytes`` of answer; never raises."""

    async def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Any | None,
        timeout_s: float,
        max_bytes: int,
    ) -> Fetched: ...


def fill_headers(
    headers: Sequence[Header], credentials: Credentials
) -> tuple[dict[str, str], list[str]]:
    """Header values with credentials filled in, and the credential values used."""
    used: list[str] = []

    def sub(m: Any) -> str:
        value = credentials(m[1])
        used.append(value)
        return value

    return {h.name: CREDENTIAL.sub(sub, h.value) for h in headers}, used


def select_fields(data: Any, paths: Sequence[str]) -> dict[str, Any]:
    """The values at dotted ``paths`` (``a.b``, ``items.0.name``); missing paths are left out."""
    out: dict[str, Any] = {}
    for path in paths:
        value: Any = data
        for part in path.split("."):
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                break
        else:
            out[path] = value
    return out


def compact(value: Any, limit: int = MAX_OUTPUT_CHARS) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 14] + "...(truncated)"


class HttpRunner:
    """Runs one configured HTTP tool."""

    def __init__(
        self,
        tool: HttpTool,
        *,
        allow_hosts: Sequence[str],
        fetch: Fetch,
        credentials: Credentials,
    ) -> None:
        self.tool = tool
        self.allow_hosts = tuple(allow_hosts)
        self._fetch = fetch
        self._credentials = credentials

    def _fail(self, status: str, why: str, **extra: Any) -> Outcome:
        return Outcome(
            ok=False,
            output=f"{self.tool.name} failed: {why}. {UNAVAILABLE}",
            status=status,
            detail=why,
            **extra,
        )

    async def run(self, arguments: Mapping[str, Any]) -> Outcome:
        tool = self.tool
        try:
            url, used = fill_url(tool.url, arguments)
        except KeyError as exc:
            missing = exc.args[0]
            return Outcome(
                ok=False,
                output=f"Invalid arguments for {tool.name}: {missing} is needed. Ask the caller "
                "for it, then call it again.",
                status="invalid_arguments",
                detail=f"missing argument {missing} for the URL",
            )
        problem = url_problem(url, self.allow_hosts)
        if problem is not None:
            log.warning("tool %s refused: %s", tool.name, problem)
            return Outcome(
                ok=False,
                output=f"{tool.name} was refused on this device: {problem}. {UNAVAILABLE}",
                status="refused",
                detail=problem,
            )
        rest = {k: v for k, v in arguments.items() if k not in used}
        body: Any | None = None
        if tool.method in ("POST", "PUT", "PATCH"):
            body = rest
        else:
            url = with_query(url, rest)
        try:
            headers, secrets = fill_headers(tool.headers, self._credentials)
        except Exception as exc:  # the credential source's error: one line, no secret
            why = " ".join(str(exc).split()) or type(exc).__name__
            log.error("tool %s: a credential is missing: %s", tool.name, why)
            return Outcome(
                ok=False,
                output=f"{tool.name} is not set up on this device (a credential is missing). "
                + UNAVAILABLE,
                status="error",
                detail=f"credential: {why}",
            )
        request = {"method": tool.method, "url": url, "headers": sorted(headers)}
        got = await self._fetch(
            tool.method,
            url,
            headers=headers,
            body=body,
            timeout_s=tool.timeout_s,
            max_bytes=tool.max_answer_bytes,
        )
        extra: dict[str, Any] = {"request": request, "server_ms": got.server_ms, "secrets": secrets}
        if got.error is not None:
            return self._fail("timeout" if got.timed_out else "error", got.error, **extra)
        if not 200 <= got.status < 300:
            reason = f" {got.reason}" if got.reason else ""
            return self._fail("error", f"the service answered HTTP {got.status}{reason}", **extra)
        try:
            data = json.loads(got.body)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, ValueError):
            return self._fail("error", "the service's answer was not JSON", **extra)
        if tool.select:
            picked = select_fields(data, tool.select)
            if not picked:
                wanted = ", ".join(tool.select)
                return self._fail("error", f"the answer had none of the fields {wanted}", **extra)
            data = picked
        return Outcome(ok=True, output=compact(data), status="ok", **extra)


# -- config-time checks (pure) ------------------------------------------------------------


def check_headers(headers: Sequence[Header], where: str) -> list[str]:
    """Problems of a tool's headers, named ``{where}.headers[j].name|value``; values unshown."""
    problems = []
    for j, header in enumerate(headers):
        at = f"{where}.headers[{j}]"
        problems += [f"{at}.{p}" for p in header_problems(header.name, header.value)]
        if is_secret_header(header.name) and not CREDENTIAL.search(header.value):
            problems.append(
                f"{at}.value: a {header.name[:40]} header must take its secret from a "
                "credential, e.g. 'Bearer {credential:NAME}'; secrets never go in YAML"
            )
    return problems


def plain_json(value: Any) -> Any:
    """Tuples (from YAML lists) as lists, so the schema is plain JSON."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    return value


def parameters_problems(schema: Any) -> list[tuple[str, str]]:
    """What makes a parameters schema unusable, as (path below ``parameters``, problem),
    without a JSON-schema library: the shape, ``required`` naming missing properties,
    ``$ref`` that is remote or points nowhere, numbers that are not finite. (The full
    meta-schema check runs in device/config/preflight.py.)"""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return [("", "must be a JSON schema with type: object")]
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        return [("properties", "must be a mapping of argument names to schemas")]
    problems = []
    required = schema.get("required", [])
    if isinstance(required, list):
        missing = [str(r) for r in required if r not in properties]
        if missing:
            problems.append(("required", f"names {missing[0][:40]!r}, which is not in properties"))
    todo: list[tuple[str, Any]] = [("", schema)]
    while todo:
        where, node = todo.pop()
        if isinstance(node, float) and not math.isfinite(node):
            problems.append((where, "must be a finite number"))
        elif isinstance(node, list):
            todo += [(f"{where}[{i}]", v) for i, v in enumerate(node)]
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None and not _local_ref(schema, ref):
                problems.append(
                    (
                        f"{where}.$ref" if where else "$ref",
                        "must point inside this schema (#/...); remote or missing "
                        "references are refused",
                    )
                )
            todo += [(f"{where}.{k}" if where else str(k), v) for k, v in node.items()]
    return sorted(problems)


def _local_ref(schema: dict[str, Any], ref: Any) -> bool:
    if not isinstance(ref, str) or not ref.startswith("#"):
        return False
    node: Any = schema
    for part in [p for p in ref[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def check_http(item: HttpTool, where: str, allow_hosts: tuple[str, ...]) -> list[str]:
    problems = []
    params = plain_json(item.parameters)
    for sub, why in parameters_problems(params):
        problems.append(f"{where}.parameters{'.' + sub if sub else ''}: {why}")
    properties = params.get("properties") if isinstance(params, dict) else None
    for name in placeholders(item.url):
        if not isinstance(properties, dict) or name not in properties:
            problems.append(f"{where}.url: placeholder {{{name}}} is not a property of parameters")
    problems += [f"{where}.url: {why}" for why in template_problems(item.url, allow_hosts)]
    problems += check_headers(item.headers, where)
    for j, path in enumerate(item.select):
        if not path or any(not part for part in path.split(".")):
            problems.append(f"{where}.select[{j}]: must be a dotted path like status or job.eta")
    return problems


__all__ = [
    "UNAVAILABLE",
    "Fetch",
    "Fetched",
    "HttpRunner",
    "check_headers",
    "check_http",
    "compact",
    "fill_headers",
    "parameters_problems",
    "plain_json",
    "select_fields",
    "text_of",
]
