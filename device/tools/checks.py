"""Config-time checks of the tools, pure: what the types cannot say, one line each,
named by key path (``tools.items[2].url: ...``). Run by every settings load (through
``device.config.loader.SETTINGS_CHECKS``) and again when a tool box is built.

The checks of each kind are declared with the kind (device/tools/registry.py); the full
JSON meta-schema check needs jsonschema and runs in device/config/preflight.py.
"""

from __future__ import annotations

import re

from device.tools.guardrails import shared_phrases
from device.tools.http_rules import credential_names, host_pattern_problem
from device.tools.registry import kind_of
from device.tools.settings import ToolsSettings

__all__ = ["check_tools", "credentials_needed"]

_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_TOOLS = 128  # OpenAI function calling takes at most 128 tools per request


def check_tools(settings: ToolsSettings) -> list[str]:
    """Problems the loader cannot see, one line each, named by key path."""
    problems: list[str] = []
    for i, host in enumerate(settings.allow_hosts):
        why = host_pattern_problem(host)
        if why:
            problems.append(f"tools.allow_hosts[{i}]: {why} (got {host[:80]!r})")
    if not any(w.strip() for w in settings.confirm_yes_words):
        problems.append("tools.confirm_yes_words: must hold at least one word")
    both = shared_phrases(settings.confirm_yes_words, settings.confirm_no_words)
    if both:
        problems.append(
            f"tools.confirm_yes_words: {both[0]!r} is in confirm_no_words too (a no always "
            "wins, so it could never confirm)"
        )
    if len(settings.items) > MAX_TOOLS:
        problems.append(f"tools.items: at most {MAX_TOOLS} tools (got {len(settings.items)})")
        return problems
    seen: dict[str, int] = {}
    for i, item in enumerate(settings.items):
        where = f"tools.items[{i}]"
        if not _TOOL_NAME.fullmatch(item.name):
            problems.append(
                f"{where}.name: must be 1-64 letters, digits, _ or - (got {item.name[:80]!r})"
            )
        if item.name in seen:
            problems.append(f"{where}.name: {item.name} is already tools.items[{seen[item.name]}]")
        seen.setdefault(item.name, i)
        problems += kind_of(item).check(item, where, settings.allow_hosts)
    return problems


def credentials_needed(settings: ToolsSettings) -> list[str]:
    """Every credential name the configured tools use (for a start-up check)."""
    names: list[str] = []
    for item in settings.items:
        for header in getattr(item, "headers", ()):
            names += [n for n in credential_names(header.value) if n not in names]
    return names
