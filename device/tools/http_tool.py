"""HTTP tools: a JSON API on an allowed host, bounded in time and size.

The pure half fills templates and picks fields; ``fetch`` is the one place that talks
HTTP (httpx). Every failure becomes an ``Outcome`` with ok=False and one line the model
can speak from; nothing here raises to the caller.

Rules, in order: ``{arg}`` placeholders of the URL are filled from the arguments,
URL-encoded (``/`` too); the final URL must be http(s) and its host on the allowlist, or no
request is made; ``{credential:NAME}`` in header values is replaced by the credential,
read now; the whole exchange (connect, send, answer) must finish within ``timeout_s``;
answers must be 2xx, at most ``max_answer_bytes``, and JSON. Redirects are not followed.
Arguments not used in the URL go in the query string (GET, DELETE) or as a JSON body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from device.tools.outcome import Outcome
from device.tools.settings import Header, HttpTool

log = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
CREDENTIAL = re.compile(r"\{credential:([^{}]*)\}")
MAX_OUTPUT_CHARS = 4000
_SERVER_DUR = re.compile(r"dur=([0-9.]+)")

Credentials = Callable[[str], str]


# -- pure helpers ----------------------------------------------------------------------


def placeholders(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def fill_url(template: str, arguments: Mapping[str, Any]) -> tuple[str, set[str]]:
    """The URL with each ``{arg}`` URL-encoded, and the names used; KeyError if one is missing."""
    used: set[str] = set()

    def sub(m: re.Match[str]) -> str:
        used.add(m[1])
        return quote(_text(arguments[m[1]]), safe="")

    return PLACEHOLDER.sub(sub, template), used


def host_allowed(host: str, allow_hosts: Iterable[str]) -> bool:
    """Exact host match (case-insensitive); ``*.example.com`` allows its subdomains."""
    host = host.lower().rstrip(".")
    for allowed in allow_hosts:
        allowed = allowed.lower().rstrip(".")
        if allowed.startswith("*."):
            if host.endswith(allowed[1:]) and len(host) > len(allowed) - 1:
                return True
        elif host == allowed:
            return True
    return False


def credential_names(value: str) -> list[str]:
    return CREDENTIAL.findall(value)


def fill_headers(
    headers: Sequence[Header], credentials: Credentials
) -> tuple[dict[str, str], list[str]]:
    """Header values with credentials filled in, and the credential values used."""
    used: list[str] = []

    def sub(m: re.Match[str]) -> str:
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


def server_ms(header: str | None) -> float | None:
    """The server's own time from a ``Server-Timing`` header (sum of its ``dur=`` values)."""
    if not header:
        return None
    durations = [float(d) for d in _SERVER_DUR.findall(header)]
    return sum(durations) if durations else None


# -- the exchange ----------------------------------------------------------------------


@dataclass(slots=True)
class Fetched:
    """An HTTP exchange: either ``error`` (one line) or a status and the body."""

    error: str | None = None
    status: int = 0
    reason: str = ""
    body: bytes = b""
    server_ms: float | None = None
    timed_out: bool = False


async def fetch(
    client: httpx.AsyncClient,
    method: str,
    url: httpx.URL,
    *,
    headers: Mapping[str, str],
    body: Any | None,
    timeout_s: float,
    max_bytes: int,
) -> Fetched:
    """One request, bounded by ``timeout_s`` overall and ``max_bytes`` of answer."""
    try:
        async with asyncio.timeout(timeout_s):
            request = client.build_request(
                method,
                url,
                headers=dict(headers),
                json=body,
                timeout=httpx.Timeout(timeout_s),
            )
            response = await client.send(request, stream=True)
            try:
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > max_bytes:
                    return Fetched(error=f"the answer was larger than {max_bytes} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        return Fetched(error=f"the answer was larger than {max_bytes} bytes")
                    chunks.append(chunk)
            finally:
                await response.aclose()
            return Fetched(
                status=response.status_code,
                reason=response.reason_phrase,
                body=b"".join(chunks),
                server_ms=server_ms(response.headers.get("server-timing")),
            )
    except TimeoutError:
        return Fetched(error=f"the service did not answer within {timeout_s:g} s", timed_out=True)
    except httpx.TimeoutException:
        return Fetched(error=f"the service did not answer within {timeout_s:g} s", timed_out=True)
    except httpx.ConnectError as exc:
        return Fetched(error=f"could not connect to the service ({_reason(exc)})")
    except httpx.HTTPError as exc:
        return Fetched(error=f"the request failed ({type(exc).__name__}: {_reason(exc)})")
    except OSError as exc:
        return Fetched(error=f"the request failed ({exc.strerror or exc})")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


def checked_url(text: str, allow_hosts: Iterable[str]) -> tuple[httpx.URL | None, str | None]:
    """The URL if it may be requested, else None and why (one line)."""
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError) as exc:
        return None, f"not a valid URL ({_reason(exc)})"
    if url.scheme not in ("http", "https"):
        return None, f"only http and https URLs are allowed (got {url.scheme or 'none'})"
    if not url.host:
        return None, "the URL has no host"
    if not host_allowed(url.host, allow_hosts):
        return None, f"host {url.host} is not on this device's allowlist (tools.allow_hosts)"
    return url, None


UNAVAILABLE = "Tell the caller it is not available right now and offer other help."


class HttpRunner:
    """Runs one configured HTTP tool."""

    def __init__(
        self,
        tool: HttpTool,
        *,
        allow_hosts: Sequence[str],
        client: Callable[[], httpx.AsyncClient],
        credentials: Credentials,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.tool = tool
        self.allow_hosts = tuple(allow_hosts)
        self._client = client
        self._credentials = credentials
        self._clock = clock

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
            text, used = fill_url(tool.url, arguments)
        except KeyError as exc:
            missing = exc.args[0]
            return Outcome(
                ok=False,
                output=f"Invalid arguments for {tool.name}: {missing} is needed. Ask the caller "
                "for it, then call it again.",
                status="invalid_arguments",
                detail=f"missing argument {missing} for the URL",
            )
        url, problem = checked_url(text, self.allow_hosts)
        if url is None or problem is not None:
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
        elif rest:
            url = url.copy_merge_params({k: _text(v) for k, v in rest.items()})
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
        request = {"method": tool.method, "url": str(url), "headers": sorted(headers)}
        got = await fetch(
            self._client(),
            tool.method,
            url,
            headers=headers,
            body=body,
            timeout_s=tool.timeout_s,
            max_bytes=tool.max_answer_bytes,
        )
        extra: dict[str, Any] = {
            "request": request,
            "server_ms": got.server_ms,
            "secrets": secrets,
        }
        if got.error is not None:
            return self._fail("timeout" if got.timed_out else "error", got.error, **extra)
        if not 200 <= got.status < 300:
            reason = f" {got.reason}" if got.reason else ""
            return self._fail("error", f"the service answered HTTP {got.status}{reason}", **extra)
        try:
            data = json.loads(got.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self._fail("error", "the service's answer was not JSON", **extra)
        if tool.select:
            picked = select_fields(data, tool.select)
            if not picked:
                wanted = ", ".join(tool.select)
                return self._fail("error", f"the answer had none of the fields {wanted}", **extra)
            data = picked
        return Outcome(ok=True, output=compact(data), status="ok", **extra)
