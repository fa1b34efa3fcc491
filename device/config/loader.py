"""The config: one YAML file to frozen, typed settings (device/config/settings.py), checked whole.

Three steps, each in its own module:

1. ``device/config/yaml_source.py`` reads the file (size, kind, no blocking) and composes nodes
   with their line numbers (depth, alias budget, duplicate keys, merges, tags, secrets);
2. ``device/config/builder.py`` turns the nodes into settings, generically, from the
   dataclasses' type hints and ``option()`` metadata;
3. the checks here see the settings as a whole: ``SETTINGS_CHECKS`` (pure: sections
   against each other, URLs, the tools) run on every load; ``device/config/preflight.py`` (files,
   folders, WAVs, JSON schemas: what ``run`` needs before it opens a device or the
   network) runs in ``check-config`` and at start-up through ``startup_problems``.

Every problem is one line, ``FILE:LINE: key.path: what is wrong (got VALUE)``, and all are
reported at once. Secrets are refused and never echoed. Loading settings imports no
asyncio, httpx or jsonschema.

Example::

    settings = load_settings(Path("/etc/voice-kiosk/kiosk.yaml"))   # or ConfigError
    settings = apply_overrides(settings, {"realtime.url": "ws://127.0.0.1:8765/v1/realtime"})
    problems = startup_problems(settings, path)                       # [] when run can start
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from yaml.nodes import Node

from device.common.problems import ConfigError, is_secret_key
from device.common.text import one_line
from device.config.builder import load_as, load_tree
from device.config.overrides import apply_overrides
from device.config.settings import Settings
from device.config.yaml_source import compose, locate, read_text
from device.realtime.settings import ServerVad
from device.tools.checks import check_tools

__all__ = [
    "SETTINGS_CHECKS",
    "ConfigError",
    "apply_overrides",
    "check_config",
    "cross_checks",
    "is_secret_key",
    "load_as",
    "load_settings",
    "startup_problems",
]

Check = Callable[[Settings], list[str]]  # problems as "key.path: what is wrong"

# the gate's hangover must outlast the server's silence window by this much: the last
# upload chunk and the network need a moment too
_HANGOVER_MARGIN_MS = 200
_MAX_LINES = 100  # problems printed by check-config; the rest are counted
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_LANGUAGE = re.compile(r"[a-z]{2}")
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f]")


def load_settings(path: Path, checks: Sequence[Check] | None = None) -> Settings:
    """Load and validate a config file, or raise ConfigError listing every problem.

    Beyond the types, ``checks`` (default ``SETTINGS_CHECKS``) see the settings whole;
    their problems carry the file's line numbers too.
    """
    return _load(path, checks)[0]


def _load(path: Path, checks: Sequence[Check] | None = None) -> tuple[Settings, Node | None]:
    settings, root = load_tree(Settings, path)
    chosen = SETTINGS_CHECKS if checks is None else checks
    problems = [p for check in chosen for p in check(settings)]
    if problems:
        raise ConfigError(_located(path, problems, root))
    return settings, root


def startup_problems(
    settings: Settings, path: Path, *, pure: bool = False, root: Node | None = None
) -> list[str]:
    """What stops ``run`` from starting with ``settings`` (loaded from ``path``), as lines.

    Runs ``device.config.preflight`` (files, folders, WAVs, JSON schemas); with ``pure`` also
    ``SETTINGS_CHECKS`` again (after ``--set`` overrides changed the settings). Opens no
    device and no network. ``check-config`` and ``run`` both call this.
    """
    from device.config.preflight import preflight  # jsonschema and wave: not for plain loading

    problems = [p for check in SETTINGS_CHECKS for p in check(settings)] if pure else []
    problems += preflight(settings)
    return _located(path, problems, root) if problems else []


def _located(path: Path, problems: list[str], root: Node | None = None) -> list[str]:
    """Each ``key.path: problem`` with the file and the key's line (``root``: the nodes)."""
    if root is None:
        try:
            root = compose(read_text(path), str(path))
        except ConfigError:
            root = None
    return [one_line(locate(str(path), root, problem)) for problem in problems]


# -- checks between sections (pure) ---------------------------------------------------------


def cross_checks(settings: Settings) -> list[str]:
    """Problems between sections and of values no type can say, one line each."""
    problems = []
    gate, vad = settings.audio.gate, settings.realtime.turn_detection
    if (
        gate.enabled
        and isinstance(vad, ServerVad)
        and gate.hangover_ms < vad.silence_duration_ms + _HANGOVER_MARGIN_MS
    ):
        problems.append(
            f"audio.gate.hangover_ms: must be at least realtime.turn_detection."
            f"silence_duration_ms + {_HANGOVER_MARGIN_MS} = "
            f"{vad.silence_duration_ms + _HANGOVER_MARGIN_MS}, or the gate stops the audio "
            f"before the server hears the caller's turn end (got {gate.hangover_ms})"
        )
    conv = settings.conversation
    if conv.idle_timeout_s > conv.max_duration_s:
        problems.append(
            f"conversation.idle_timeout_s: must not be above conversation.max_duration_s "
            f"({conv.max_duration_s:g}) (got {conv.idle_timeout_s:g})"
        )
    for key, model in (
        ("realtime.model", settings.realtime.model),
        ("realtime.transcription.model", settings.realtime.transcription.model),
    ):
        if model.strip() and not _MODEL.fullmatch(model):
            problems.append(
                f"{key}: must be a model name such as gpt-realtime-2.1 (letters, digits, . _ - :)"
            )
    for key, text in (("device.name", settings.device.name), ("device.site", settings.device.site)):
        if _LINE_BREAKS.search(text):
            problems.append(f"{key}: must be one line (no line breaks or control characters)")
    why = realtime_url_problem(settings.realtime.url)
    if why:
        problems.append(f"realtime.url: {why}")
    language = settings.realtime.transcription.language
    if language is not None and not _LANGUAGE.fullmatch(language):
        problems.append(
            "realtime.transcription.language: must be an ISO-639-1 code of two lower-case "
            f"letters, e.g. en or de (got {language[:40]!r})"
        )
    return problems


def realtime_url_problem(url: str) -> str | None:
    """None for ``wss://HOST[:PORT]/...`` or ``ws://`` to a loopback host, else why not.

    The API key travels in the WebSocket handshake: in clear (ws://) only to this machine
    (the local emulator).
    """
    if _CONTROL.search(url):
        return "must not hold spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("wss", "ws"):
        return f"must be a wss:// URL, e.g. wss://api.openai.com/v1/realtime (got {url[:80]!r})"
    host = parts.hostname or ""
    if not host:
        return "the URL has no host"
    if port == 0:
        return "port 0 is not a port to connect to"
    if parts.scheme == "ws" and not _is_loopback(host):
        return (
            "ws:// sends the API key in clear: use wss://, or ws:// only to this machine "
            f"(127.0.0.1, ::1, localhost) (got host {host})"
        )
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tools(settings: Settings) -> list[str]:
    return check_tools(settings.tools)


SETTINGS_CHECKS: tuple[Check, ...] = (cross_checks, _tools)


# -- the check-config command ---------------------------------------------------------------


def count_tools(tools: Any) -> int:
    """Configured tools: the entries of every list or mapping of sections under `tools:`."""
    count = 0
    for f in dataclasses.fields(tools):
        value = getattr(tools, f.name)
        items = value.values() if isinstance(value, dict) else value
        if isinstance(value, tuple | dict):
            count += sum(1 for v in items if dataclasses.is_dataclass(v))
    return count


_count_tools = count_tools  # the name the tests knew


def check_config(path: Path, out: TextIO, err: TextIO) -> int:
    """`voice-kiosk check-config`: 0 and one summary line, or 2 and one line per problem.

    "OK" means ``run`` starts with this file: the same ``startup_problems`` run there.
    """
    try:
        settings, root = _load(path)
        problems = startup_problems(settings, path, root=root)
    except ConfigError as exc:
        problems = exc.problems
    except Exception as exc:  # a bug must still be one line, never a traceback
        problems = [f"{path}: cannot check this file ({type(exc).__name__})"]
    if problems:
        for problem in problems[:_MAX_LINES]:
            print(one_line(problem), file=err)
        if len(problems) > _MAX_LINES:
            print(f"{path}: {len(problems) - _MAX_LINES} more problems not shown", file=err)
        return 2
    n = count_tools(settings.tools)
    summary = (
        f"{path}: OK (model {settings.realtime.model}, input {settings.audio.input.type}, "
        f"output {settings.audio.output.type}, {n} tool{'' if n == 1 else 's'})"
    )
    print(one_line(summary), file=out)
    for note in settings.audio.advice():
        print(one_line(f"{path}: note: {note}"), file=out)
    return 0
