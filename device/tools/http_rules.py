"""The rules of tool URLs and headers, pure: used when the config is checked and again
when a tool runs, so both say the same.

- URLs are ``http://`` or ``https://`` with a host and a valid port, no ``user@`` part, no
  spaces or control characters; the host must be on the allowlist
  (``*.example.com`` allows its subdomains, not itself).
- URL templates hold placeholders ``{name}`` (letters, digits, ``_``; not starting with a
  digit), filled URL-encoded from the arguments; credentials never go in a URL.
- Header names are RFC 9110 tokens; header values hold no control characters (a newline
  would inject a header); ``{credential:NAME}`` in a value is replaced when the tool runs.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
CREDENTIAL = re.compile(r"\{credential:([^{}]*)\}")
CREDENTIAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token
_HEADER_VALUE_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # HTAB is allowed
_URL_BAD = re.compile(r"[\x00-\x20\x7f]")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_SERVER_DUR = re.compile(r"dur=([0-9.]+)")


def placeholders(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


def credential_names(value: str) -> list[str]:
    return CREDENTIAL.findall(value)


def text_of(value: Any) -> str:
    """An argument as it goes into a URL or a query string."""
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
        return quote(text_of(arguments[m[1]]), safe="")

    return PLACEHOLDER.sub(sub, template), used


def with_query(url: str, arguments: Mapping[str, Any]) -> str:
    """``url`` with ``arguments`` added to its query string."""
    if not arguments:
        return url
    query = urlencode({k: text_of(v) for k, v in arguments.items()})
    base, _, fragment = url.partition("#")
    joined = f"{base}{'&' if '?' in base else '?'}{query}"
    return f"{joined}#{fragment}" if fragment else joined


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


def host_pattern_problem(pattern: str) -> str | None:
    """None for ``jobs.example.com``, ``*.example.com``, ``127.0.0.1`` or ``::1``."""
    text = pattern.strip().rstrip(".")
    try:
        ipaddress.ip_address(text)
        return None
    except ValueError:
        pass
    name = text.removeprefix("*.")
    if name and len(name) <= 253 and all(_LABEL.fullmatch(part) for part in name.split(".")):
        return None
    return "must be a host name like jobs.example.com or *.example.com (no scheme, port or path)"


def url_problem(url: str, allow_hosts: Iterable[str], *, check_host: bool = True) -> str | None:
    """None if ``url`` may be requested, else why not (one line, without the URL)."""
    if _URL_BAD.search(url):
        return "must not hold spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({' '.join(str(exc).split())[:80]})"
    if parts.scheme not in ("http", "https"):
        return f"only http and https URLs are allowed (got {parts.scheme[:20] or 'none'})"
    if "@" in parts.netloc:
        return "no user@ or user:password@ in a URL: secrets go in headers as {credential:NAME}"
    host = parts.hostname or ""
    if not host:
        return "the URL has no host"
    if port == 0:
        return "port 0 is not a port to connect to"
    if check_host and not host_allowed(host, allow_hosts):
        return f"host {host[:80]} is not on this device's allowlist (tools.allow_hosts)"
    return None


def template_problems(template: str, allow_hosts: Iterable[str]) -> list[str]:
    """Problems of a URL template: placeholders well formed, the rest a good URL."""
    if CREDENTIAL.search(template) or "{credential:" in template:
        return ["credentials never go in a URL: put {credential:NAME} in a header"]
    rest = PLACEHOLDER.sub("x", template)
    if "{" in rest or "}" in rest:
        return [
            "placeholders are {name} (letters, digits and _, not starting with a digit), "
            "each closed with }"
        ]
    netloc = urlsplit(_URL_BAD.sub("", template)).netloc if "{" in template else ""
    host_templated = "{" in netloc  # the host comes from the arguments: checked when it runs
    why = url_problem(rest, allow_hosts, check_host=not host_templated)
    return [why] if why else []


def header_problems(name: str, value: str) -> list[str]:
    """Problems of one header as ``field: problem`` (``name: ...`` or ``value: ...``)."""
    problems = []
    if not HEADER_NAME.fullmatch(name):
        problems.append(
            "name: must be a header name (letters, digits and !#$%&'*+-.^_`|~; no spaces or colons)"
        )
    if _HEADER_VALUE_BAD.search(value):
        problems.append("value: must not hold control characters such as a line break")
    for cred in credential_names(value):
        if not CREDENTIAL_NAME.fullmatch(cred):
            problems.append(
                "value: a credential name is not valid: use letters, digits, '.', '-' and '_'"
            )
            break
    return problems


def server_ms(header: str | None) -> float | None:
    """The server's own time from a ``Server-Timing`` header (sum of its ``dur=`` values)."""
    if not header:
        return None
    durations = [float(d) for d in _SERVER_DUR.findall(header)]
    return sum(durations) if durations else None
