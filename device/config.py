"""YAML to frozen, typed settings (device/settings.py), loaded once at start-up.

The loader is generic: it walks the settings dataclasses' type hints and the ``option()``
metadata (device/options.py), so a new setting needs no loader code. Every problem is
collected and reported at once, one line each::

    FILE:LINE: key.path: what is wrong (got VALUE)

Unknown keys get a did-you-mean; a key named like a secret (``api_key``, ``token``,
``Authorization``...) holding a value is refused without echoing it: secrets never go in
YAML. Relative paths are resolved against the folder of the file that holds them.
YAML anchors and ``<<`` merges work; top-level keys starting with ``x-`` are ignored, as a
place to define anchors.

Example::

    settings = load_settings(Path("/etc/voice-kiosk/kiosk.yaml"))   # or ConfigError
    settings = apply_overrides(settings, {"realtime.url": "ws://127.0.0.1:8765/v1/realtime"})
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from device.realtime.settings import ServerVad
from device.settings import Settings

__all__ = [
    "ConfigError",
    "apply_overrides",
    "check_config",
    "is_secret_key",
    "load_as",
    "load_settings",
]

T = TypeVar("T")

SECRET_HINT = (
    "secrets never go in YAML: use a systemd credential, an environment variable "
    "or a 0600 key file (see README)"
)
# A key is a secret if, lower-cased with separators removed, it ends with one of these:
# api_key, x-api-key, OPENAI_API_KEY, clientSecret, bearer_token, Authorization...
# (api_key_file, token_url and max_output_tokens are not: they do not end with one).
_SECRET_ENDINGS = (
    "apikey",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "bearer",
    "authorization",
    "privatekey",
)
_DISCRIMINATORS = ("type", "kind")
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_INVALID: Any = object()  # a value that failed validation (its problem is already recorded)


class ConfigError(Exception):
    """The config is not usable; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def is_secret_key(name: str) -> bool:
    """True for key names that would hold a secret (``api_key``, ``Authorization``...)."""
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    return flat.endswith(_SECRET_ENDINGS)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"


def _is_null(node: Node | None) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


def _line(node: Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _scalar_python(node: ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        return node.value
    finally:
        loader.dispose()


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


class _Builder:
    """Builds settings objects from composed YAML nodes, recording every problem."""

    def __init__(self, prefix: Callable[[Node | None], str], base_dir: Path) -> None:
        self.prefix = prefix
        self.base_dir = base_dir
        self.problems: list[tuple[int, str]] = []
        self.secret_keys: set[int] = set()  # ids of key nodes refused as secrets
        self.secret_values: set[int] = set()  # ids of their value nodes (never displayed)

    def problem(self, node: Node | None, key: str, message: str, got: Any = ...) -> None:
        suffix = "" if got is ... else f" (got {_short(got)})"
        self.problems.append((_line(node), f"{self.prefix(node)}{key}: {message}{suffix}"))

    def lines(self) -> list[str]:
        return [text for _, text in sorted(self.problems, key=lambda p: p[0])]

    def shown(self, node: Node, depth: int = 0) -> Any:
        """A node as plain Python for messages; secret values are masked."""
        if id(node) in self.secret_values:
            return "***"
        if depth > 5:
            return ...
        if isinstance(node, ScalarNode):
            return _scalar_python(node)
        if isinstance(node, SequenceNode):
            return [self.shown(item, depth + 1) for item in node.value]
        if isinstance(node, MappingNode):
            return {str(self.shown(k, depth + 1)): self.shown(v, depth + 1) for k, v in node.value}
        return None

    def plain(self, node: Node, key: str, depth: int = 0) -> Any:
        """Free-form YAML (a JSON schema, say) as plain Python, at most 32 levels deep."""
        if depth > 32:
            self.problem(node, key, "nested more than 32 levels deep (a recursive alias?)")
            return _INVALID
        if isinstance(node, SequenceNode):
            items = [self.plain(item, key, depth + 1) for item in node.value]
            return _INVALID if any(v is _INVALID for v in items) else items
        if isinstance(node, MappingNode):
            out = {}
            for k, v in node.value:
                name = str(self.shown(k))
                value = self.plain(v, key, depth + 1)
                if value is _INVALID:
                    return _INVALID
                out[name] = value
            return out
        return _scalar_python(node) if isinstance(node, ScalarNode) else None

    # -- pre-pass: merge keys, duplicate keys, secrets -----------------------------------

    def scan(self, node: Node | None, key: str, seen: set[int] | None = None) -> None:
        """Expand ``<<`` merges, report duplicate keys and secret-named keys with values."""
        seen = set() if seen is None else seen
        if node is None or id(node) in seen:
            return
        seen.add(id(node))
        if not node.tag.startswith("tag:yaml.org,2002:"):
            self.problem(node, key or "(top level)", f"unsupported YAML tag {node.tag}")
        if isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                self.scan(item, f"{key}[{i}]", seen)
            return
        if not isinstance(node, MappingNode):
            return
        first: dict[str, Node] = {}
        for k, _ in node.value:
            name = str(k.value) if isinstance(k, ScalarNode) else ""
            if not name or name == "<<":
                continue
            if name in first:
                where = f"first at line {_line(first[name])}"
                self.problem(k, _join(key, name), f"duplicate key ({where})")
            else:
                first[name] = k
        constructor = yaml.SafeLoader("")
        try:
            constructor.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            self.problem(node, key or "(top level)", f"bad merge: {exc.problem}")
            node.value = [(k, v) for k, v in node.value if getattr(k, "value", None) != "<<"]
        finally:
            constructor.dispose()
        for k, v in node.value:
            name = str(k.value) if isinstance(k, ScalarNode) else ""
            path = _join(key, name)
            valued = isinstance(v, ScalarNode) and v.tag not in (_NULL, _BOOL)
            if name and is_secret_key(name) and valued:
                self.problem(k, path, SECRET_HINT)
                self.secret_keys.add(id(k))
                self.secret_values.add(id(v))
            else:
                self.scan(v, path, seen)

    # -- dataclasses ---------------------------------------------------------------------

    def dataclass(
        self,
        cls: type,
        node: Node | None,
        key: str,
        at: Node | None = None,
        siblings: dict[str, list[str]] | None = None,
    ) -> Any:
        """Build ``cls`` from a mapping node (None or null: all defaults).

        ``at`` is the key node naming this section (where missing keys are reported);
        ``siblings`` maps field names of other union variants to their discriminators.
        """
        if node is not None and not _is_null(node) and not isinstance(node, MappingNode):
            what = key or "(top level)"
            self.problem(node, what, "must be a mapping of keys", self.shown(node))
            return _INVALID
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        valid = True
        pairs = node.value if isinstance(node, MappingNode) else []
        for key_node, value_node in pairs:
            if id(key_node) in self.secret_keys:
                valid = False
                continue
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, key or "(top level)", "keys must be plain names")
                valid = False
                continue
            name = str(key_node.value)
            path = _join(key, name)
            if not key and name.startswith("x-"):
                continue  # top-level x-...: a place for YAML anchors, like docker compose
            if name not in fields:
                self.problem(key_node, path, self.unknown(name, list(fields), siblings))
                valid = False
                continue
            value = self.value(hints[name], value_node, path, fields[name].metadata, key_node)
            if value is _INVALID:
                valid = False
            else:
                values[name] = value
        for name, f in fields.items():
            if name in values:
                continue
            if f.default is not dataclasses.MISSING:
                values[name] = self.rebase(f.default)
            elif f.default_factory is not dataclasses.MISSING:
                values[name] = self.rebase(f.default_factory())
            elif not any(k.value == name for k, _ in pairs if isinstance(k, ScalarNode)):
                self.problem(at or node, _join(key, name), "required key is missing")
                valid = False
        if not valid:
            return _INVALID
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.problem(at or node, key or "(top level)", message)
            return _INVALID

    @staticmethod
    def unknown(name: str, known: list[str], siblings: dict[str, list[str]] | None) -> str:
        if siblings and name in siblings:
            owners = " or ".join(siblings[name])
            return f"unknown key here (only {owners} has it)"
        lowered = {k.lower(): k for k in known}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
        close = close or difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        return f"unknown key (did you mean '{close[0]}'?)" if close else "unknown key"

    def rebase(self, value: Any) -> Any:
        """A default value with its relative paths resolved against the config folder."""
        if isinstance(value, Path):
            return value if value.is_absolute() else (self.base_dir / value).resolve()
        if isinstance(value, tuple):
            return tuple(self.rebase(v) for v in value)
        if isinstance(value, dict):
            return {k: self.rebase(v) for k, v in value.items()}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for f in dataclasses.fields(value):
                old = getattr(value, f.name)
                new = self.rebase(old)
                if new is not old:
                    changes[f.name] = new
            return dataclasses.replace(value, **changes) if changes else value
        return value

    # -- values --------------------------------------------------------------------------

    def value(self, tp: Any, node: Node, key: str, meta: Any = None, at: Node | None = None) -> Any:
        """Convert ``node`` to type ``tp``; on failure record a problem, return _INVALID."""
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            return self.union(args, node, key, meta, at)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self.dataclass(tp, node, key, at)
        if _is_null(node):
            self.problem(node, key, f"must not be empty: give {_describe(tp)}")
            return _INVALID
        if origin is typing.Literal:
            return self.literal(args, node, key)
        if origin is tuple:
            return self.sequence(args, node, key, meta)
        if origin is dict:
            return self.mapping(args, node, key, meta)
        if tp in (object, Any):
            return self.plain(node, key)
        if not isinstance(node, ScalarNode):
            self.problem(node, key, f"must be {_describe(tp)}", self.shown(node))
            return _INVALID
        return self.scalar(tp, node, key, meta)

    def union(self, args: tuple[Any, ...], node: Node, key: str, meta: Any, at: Node | None) -> Any:
        members = [a for a in args if a is not type(None)]
        if _is_null(node) and len(members) < len(args):
            return None
        if all(dataclasses.is_dataclass(m) for m in members) and len(members) > 1:
            return self.variant(members, node, key, at)
        if len(members) == 1:
            return self.value(members[0], node, key, meta, at)
        for member in members:  # mixed scalars, e.g. int | str: the first that fits
            trial = _Builder(self.prefix, self.base_dir)
            trial.secret_keys, trial.secret_values = self.secret_keys, self.secret_values
            result = trial.value(member, node, key, meta, at)
            if result is not _INVALID:
                return result
        alternatives = " or ".join(_describe(m) for m in members)
        self.problem(node, key, f"must be {alternatives}", self.shown(node))
        return _INVALID

    def variant(self, members: list[Any], node: Node, key: str, at: Node | None) -> Any:
        """One of several dataclasses, chosen by their single-valued ``type``/``kind``."""
        names = {f.name for f in dataclasses.fields(members[0])}
        tag = next((n for n in _DISCRIMINATORS if n in names), None)
        choices: dict[Any, type] = {}
        for member in members:
            hint = typing.get_type_hints(member).get(tag or "")
            if tag is None or typing.get_origin(hint) is not typing.Literal:
                self.problem(node, key, "unsupported setting type (no type/kind field)")
                return _INVALID
            choices[typing.get_args(hint)[0]] = member
        allowed = ", ".join(str(c) for c in choices)
        if not isinstance(node, MappingNode):
            if _is_null(node):
                self.problem(node, f"{key}.{tag}", f"required key is missing (one of {allowed})")
            else:
                self.problem(node, key, "must be a mapping of keys", self.shown(node))
            return _INVALID
        tag_node = next((v for k, v in node.value if getattr(k, "value", None) == tag), None)
        if tag_node is None:
            self.problem(at or node, f"{key}.{tag}", f"required key is missing (one of {allowed})")
            return _INVALID
        chosen = self._choice(tag_node, choices)
        if chosen is None:
            got = self.shown(tag_node)
            self.problem(tag_node, f"{key}.{tag}", f"must be one of {allowed}", got)
            return _INVALID
        siblings: dict[str, list[str]] = {}
        for value, member in choices.items():
            if member is not chosen:
                for f in dataclasses.fields(member):
                    siblings.setdefault(f.name, []).append(f"{tag} {value}")
        return self.dataclass(chosen, node, key, at, siblings)

    @staticmethod
    def _choice(node: Node, choices: dict[Any, type]) -> type | None:
        if not isinstance(node, ScalarNode):
            return None
        got = _scalar_python(node)
        for value, member in choices.items():
            if type(value) is type(got) and value == got:
                return member
        return choices.get(node.value) if node.style is None else None

    def literal(self, args: tuple[Any, ...], node: Node, key: str) -> Any:
        allowed = ", ".join(str(a) for a in args)
        if isinstance(node, ScalarNode):
            got = _scalar_python(node)
            for a in args:
                if type(a) is type(got) and a == got:
                    return a
            if node.style is None and node.value in args:  # `off`, `no`: text, not booleans
                return node.value
        self.problem(node, key, f"must be one of {allowed}", self.shown(node))
        return _INVALID

    def sequence(self, args: tuple[Any, ...], node: Node, key: str, meta: Any) -> Any:
        if not isinstance(node, SequenceNode):
            self.problem(node, key, "must be a list", self.shown(node))
            return _INVALID
        if len(args) == 2 and args[1] is Ellipsis:
            kinds = [args[0]] * len(node.value)
        elif len(args) != len(node.value):
            self.problem(node, key, f"must be a list of {len(args)} items", self.shown(node))
            return _INVALID
        else:
            kinds = list(args)
        items = [
            self.value(tp, item, f"{key}[{i}]", meta)
            for i, (tp, item) in enumerate(zip(kinds, node.value, strict=True))
        ]
        return _INVALID if any(v is _INVALID for v in items) else tuple(items)

    def mapping(self, args: tuple[Any, ...], node: Node, key: str, meta: Any) -> Any:
        if not isinstance(node, MappingNode):
            self.problem(node, key, "must be a mapping", self.shown(node))
            return _INVALID
        key_type, value_type = args
        out: dict[Any, Any] = {}
        valid = True
        for k, v in node.value:
            if id(k) in self.secret_keys:
                valid = False
                continue
            name = str(self.shown(k))
            path = _join(key, name)
            dict_key = self.value(key_type, k, path)
            dict_value = self.value(value_type, v, path, meta, k)
            if dict_key is _INVALID or dict_value is _INVALID:
                valid = False
            else:
                out[dict_key] = dict_value
        return out if valid else _INVALID

    def scalar(self, tp: Any, node: ScalarNode, key: str, meta: Any) -> Any:
        got = _scalar_python(node)
        plain = node.style is None
        if tp is bool:
            if isinstance(got, bool):
                return got
            self.problem(node, key, "must be true or false", got)
            return _INVALID
        if tp in (int, float):
            if tp is float and plain and isinstance(got, str) and _FLOAT_TEXT.fullmatch(got):
                got = float(got)  # 1e3: YAML 1.1 reads it as text
            if isinstance(got, bool) or not isinstance(got, int | float):
                self.problem(node, key, f"must be {_describe(tp)}", got)
                return _INVALID
            if tp is int and isinstance(got, float):
                self.problem(node, key, "must be a whole number", got)
                return _INVALID
            if not math.isfinite(got):
                self.problem(node, key, "must be a finite number", got)
                return _INVALID
            return tp(got) if self.in_range(node, key, got, meta) else _INVALID
        if tp in (str, Path):
            if node.tag != "tag:yaml.org,2002:str" and not plain:
                self.problem(node, key, f"must be {_describe(tp)}", got)
                return _INVALID
            text = node.value  # as written: `1.10` stays "1.10", `no` stays "no"
            if tp is str:
                return text
            if not text.strip():
                self.problem(node, key, "must be a file path, not empty")
                return _INVALID
            path = Path(text).expanduser()
            return path if path.is_absolute() else (self.base_dir / path).resolve()
        self.problem(node, key, f"unsupported setting type {_type_name(tp)}")
        return _INVALID

    def in_range(self, node: Node, key: str, got: float, meta: Any) -> bool:
        low = meta.get("min") if meta else None
        high = meta.get("max") if meta else None
        if low is not None and high is not None and not low <= got <= high:
            self.problem(node, key, f"must be between {low:g} and {high:g}", got)
        elif low is not None and got < low:
            self.problem(node, key, f"must be >= {low:g}", got)
        elif high is not None and got > high:
            self.problem(node, key, f"must be <= {high:g}", got)
        else:
            return True
        return False


def _describe(tp: Any) -> str:
    """Human words for a type, for 'must be ...' messages."""
    origin = typing.get_origin(tp)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is str:
        return "text"
    if tp is Path:
        return "a file path"
    if origin is tuple:
        return "a list"
    if origin is dict or dataclasses.is_dataclass(tp):
        return "a mapping of keys"
    if origin is typing.Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(tp))
    return f"a {_type_name(tp)}"


def _compose(text: str, where: str) -> Node | None:
    """Parse YAML keeping line marks; a syntax error is one ConfigError line."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "unreadable"
        if exc.context and exc.problem and exc.context_mark and exc.context_mark is not mark:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        if "'\\t'" in problem:
            problem += "; indent with spaces, not tabs"
        raise ConfigError([f"{where}{line}: invalid YAML: {problem}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{where}: invalid YAML: {str(exc).splitlines()[0]}"]) from None


# the gate's hangover must outlast the server's silence window by this much: the last
# upload chunk and the network need a moment too
_HANGOVER_MARGIN_MS = 200


def load_settings(path: Path) -> Settings:
    """Load and validate a config file, or raise ConfigError listing every problem.

    Beyond the types, the tools are checked as a whole (allowlisted hosts, URL placeholders,
    JSON schemas, secrets in headers); their problems carry the file's line numbers too.
    """
    from device.tools.toolbox import check_tools  # the tools import this module

    settings = load_as(Settings, path)
    problems = cross_checks(settings) + check_tools(settings.tools)
    if problems:
        root = _compose(path.read_text(encoding="utf-8"), str(path))
        raise ConfigError([_locate(path, root, problem) for problem in problems])
    return settings


def cross_checks(settings: Settings) -> list[str]:
    """Problems between sections, one line each, named by key path."""
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
    return problems


def _locate(path: Path, root: Node | None, problem: str) -> str:
    """``key.path[0].name: message`` as ``FILE:LINE: key.path[0].name: message``."""
    key = problem.split(":", 1)[0]
    node, line = root, 1
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", key):
        if isinstance(node, SequenceNode) and part.startswith("["):
            index = int(part[1:-1])
            node = node.value[index] if index < len(node.value) else None
        elif isinstance(node, MappingNode):
            found = [(k, v) for k, v in node.value if getattr(k, "value", None) == part]
            node = found[0][1] if found else None
            if found:
                line = _line(found[0][0])
        else:
            break
        if node is None:
            break
    return f"{path}:{line}: {problem}"


def load_as(cls: type[T], path: Path) -> T:
    """Load a YAML file into any settings dataclass ``cls`` (load_settings uses Settings)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such config file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a folder, not a config file"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: cannot read: not UTF-8 text"]) from None
    node = _compose(text, str(path))
    builder = _Builder(lambda n: f"{path}:{_line(n)}: ", path.absolute().parent)
    builder.scan(node, "")
    result = builder.dataclass(cls, node, "")
    if builder.problems or result is _INVALID:
        raise ConfigError(builder.lines() or [f"{path}: not a usable config"])
    return result


def apply_overrides(settings: Settings, overrides: dict[str, str]) -> Settings:
    """Settings with ``key.path -> YAML value`` overrides (from ``--set``) applied.

    Values are parsed as YAML and validated like file values; relative paths are
    resolved against the current folder. A union section (``audio.input``) changes kind
    only as a whole: ``--set 'audio.input={type: file, path: q.wav}'``.
    """
    problems: list[str] = []
    for key, text in overrides.items():
        if any(is_secret_key(part) for part in key.split(".")):
            problems.append(f"--set {key}: {SECRET_HINT}")
            continue
        try:
            node = _compose(text or "''", "")
        except ConfigError as exc:
            problems.append(f"--set {key}{re.sub(r'^:[0-9]+', '', exc.problems[0])}")
            continue
        assert node is not None
        builder = _Builder(lambda _node: "--set ", Path.cwd())
        builder.scan(node, key)
        updated = _replace_path(settings, key.split("."), node, key, builder)
        problems += builder.lines()
        if updated is not _INVALID and not builder.problems:
            settings = updated
    if problems:
        raise ConfigError(problems)
    return settings


def _replace_path(obj: Any, parts: list[str], node: Node, key: str, builder: _Builder) -> Any:
    """``obj`` with the field at ``parts`` set from ``node``; _INVALID after a problem."""
    name, rest = parts[0], parts[1:]
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if name not in fields:
        builder.problem(None, key, builder.unknown(name, list(fields), None))
        return _INVALID
    tp, child = typing.get_type_hints(type(obj))[name], getattr(obj, name)
    meta = fields[name].metadata
    if not rest:
        if name in _DISCRIMINATORS and typing.get_origin(tp) is typing.Literal:
            if isinstance(node, ScalarNode) and node.value == child:
                return obj
            section = key.rsplit(".", 1)[0]
            builder.problem(
                None, key, f"set the whole section to change its {name}: --set '{section}={{...}}'"
            )
            return _INVALID
        value = builder.value(tp, node, key, meta)
    elif dataclasses.is_dataclass(child) and not isinstance(child, type):
        value = _replace_path(child, rest, node, key, builder)
    elif isinstance(child, dict) and len(rest) == 1 and typing.get_origin(tp) is dict:
        entry = builder.value(typing.get_args(tp)[1], node, key, meta)
        value = _INVALID if entry is _INVALID else {**child, rest[0]: entry}
    else:
        builder.problem(None, key, f"'{name}' has no keys below it")
        return _INVALID
    if value is _INVALID:
        return _INVALID
    try:
        return dataclasses.replace(obj, **{name: value})
    except (TypeError, ValueError) as exc:
        builder.problem(None, key, str(exc).splitlines()[0])
        return _INVALID


def _count_tools(tools: Any) -> int:
    """Configured tools: the entries of every list or mapping of sections under `tools:`."""
    count = 0
    for f in dataclasses.fields(tools):
        value = getattr(tools, f.name)
        items = value.values() if isinstance(value, dict) else value
        if isinstance(value, tuple | dict):
            count += sum(1 for v in items if dataclasses.is_dataclass(v))
    return count


def check_config(path: Path, out: TextIO, err: TextIO) -> int:
    """`voice-kiosk check-config`: 0 and one summary line, or 2 and one line per problem."""
    try:
        s = load_settings(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        return 2
    n = _count_tools(s.tools)
    print(
        f"{path}: OK (model {s.realtime.model}, input {s.audio.input.type}, "
        f"output {s.audio.output.type}, {n} tool{'' if n == 1 else 's'})",
        file=out,
    )
    return 0
