"""YAML to frozen, typed settings (device/settings.py), loaded once at start-up.

The loader is generic: it walks the settings dataclasses' type hints and the ``option()``
metadata (device/options.py), so a new setting needs no loader code. Every problem is
reported, all at once, as one line ``FILE:LINE: key.path: what is wrong (got VALUE)``;
unknown keys get a did-you-mean, and anything that looks like a secret is refused (secrets
never go in YAML).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, TextIO, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from device.settings import Settings

T = TypeVar("T")

SECRET_KEY = re.compile(r"(api[_-]?key|password|passwd|secret|token|bearer|authorization)", re.I)
SECRET_HINT = (
    "secrets never go in YAML: use a systemd credential, an environment variable "
    "or a 0600 key file (see README)"
)


class ConfigError(Exception):
    """The config is not usable; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Builder:
    def __init__(self, file: str, base_dir: Path) -> None:
        self.file = file
        self.base_dir = base_dir
        self.problems: list[str] = []

    def problem(self, node: Node | None, key: str, message: str, got: Any = ...) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        where = f"{self.file}:{line}: " if self.file != "--set" else "--set "
        suffix = "" if got is ... else f" (got {_short(got)})"
        self.problems.append(f"{where}{key}: {message}{suffix}")

    @staticmethod
    def python(node: Node) -> Any:
        loader = yaml.SafeLoader("")
        try:
            return loader.construct_object(node, deep=True)
        finally:
            loader.dispose()

    # -- dataclasses -------------------------------------------------------------------

    def dataclass(self, cls: type[T], node: Node | None, key: str) -> T | None:
        empty = isinstance(node, ScalarNode) and node.tag.endswith(":null")
        if node is not None and not empty and not isinstance(node, MappingNode):
            self.problem(node, key or "(top level)", "must be a mapping of keys", self.python(node))
            return None
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values: dict[str, Any] = {}
        ok = True
        pairs = node.value if isinstance(node, MappingNode) else []
        for key_node, value_node in pairs:
            name = str(self.python(key_node))
            path = f"{key}.{name}" if key else name
            if (
                SECRET_KEY.search(name)
                and isinstance(value_node, ScalarNode)
                and (value_node.tag.endswith(":str"))
            ):
                self.problem(key_node, path, SECRET_HINT)
                ok = False
                continue
            if name not in fields:
                close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.problem(key_node, path, f"unknown key{hint}")
                ok = False
                continue
            before = len(self.problems)
            value = self.value(hints[name], value_node, path, fields[name].metadata)
            if len(self.problems) > before:
                ok = False
            else:
                values[name] = value
        for name, f in fields.items():
            if name not in values and isinstance(f.default, Path) and not f.default.is_absolute():
                values[name] = (self.base_dir / f.default).resolve()  # relative to this file
            elif name not in values and dataclasses.is_dataclass(hints[name]):
                values[name] = self.dataclass(hints[name], None, f"{key}.{name}" if key else name)
            missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if name not in values and missing and ok:
                self.problem(node, f"{key}.{name}" if key else name, "required key is missing")
                ok = False
        if not ok:
            return None
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            self.problem(node, key, str(exc))
            return None

    # -- values ------------------------------------------------------------------------

    def value(self, tp: Any, node: Node, key: str, meta: Any = None) -> Any:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        is_null = isinstance(node, ScalarNode) and node.tag.endswith(":null")
        if origin in (typing.Union, types.UnionType):
            members = [a for a in args if a is not type(None)]
            if is_null:
                if type(None) in args:
                    return None
                self.problem(node, key, "must not be empty")
                return None
            if len(members) == 1:
                return self.value(members[0], node, key, meta)
            if all(dataclasses.is_dataclass(m) for m in members):
                return self.variant(members, node, key)
            return self.value(members[0], node, key, meta)
        if is_null:
            self.problem(node, key, "must not be empty")
            return None
        if dataclasses.is_dataclass(tp):
            return self.dataclass(tp, node, key)  # type: ignore[arg-type]
        if origin is typing.Literal:
            got = self.python(node)
            if got not in args:
                allowed = ", ".join(str(a) for a in args)
                self.problem(node, key, f"must be one of {allowed}", got)
            return got
        if origin is tuple:
            if not isinstance(node, SequenceNode):
                self.problem(node, key, "must be a list", self.python(node))
                return None
            return tuple(
                self.value(args[0], item, f"{key}[{i}]") for i, item in enumerate(node.value)
            )
        if origin is dict:
            if not isinstance(node, MappingNode):
                self.problem(node, key, "must be a mapping", self.python(node))
                return None
            out = {}
            for k, v in node.value:
                name = str(self.python(k))
                out[name] = self.value(args[1], v, f"{key}.{name}")
            return out
        if tp in (object, Any):
            return self.python(node)
        if not isinstance(node, ScalarNode):
            self.problem(node, key, f"must be a single value ({_type_name(tp)})")
            return None
        return self.scalar(tp, node, key, meta)

    def scalar(self, tp: Any, node: ScalarNode, key: str, meta: Any) -> Any:
        got = self.python(node)
        if tp is bool:
            if not isinstance(got, bool):
                self.problem(node, key, "must be true or false", got)
            return got
        if tp in (int, float):
            if (
                isinstance(got, bool)
                or not isinstance(got, int | float)
                or (tp is int and isinstance(got, float))
            ):
                self.problem(
                    node, key, f"must be {'a whole number' if tp is int else 'a number'}", got
                )
                return got
            low = meta.get("min") if meta else None
            high = meta.get("max") if meta else None
            if low is not None and high is not None and not low <= got <= high:
                self.problem(node, key, f"must be between {low:g} and {high:g}", got)
            elif low is not None and got < low:
                self.problem(node, key, f"must be >= {low:g}", got)
            elif high is not None and got > high:
                self.problem(node, key, f"must be <= {high:g}", got)
            return tp(got)
        if tp is str:
            if isinstance(got, bool) or not isinstance(got, str | int | float):
                self.problem(node, key, "must be text", got)
                return got
            return str(got)
        if tp is Path:
            if not isinstance(got, str) or not got:
                self.problem(node, key, "must be a file path", got)
                return got
            path = Path(got).expanduser()
            return path if path.is_absolute() else (self.base_dir / path).resolve()
        self.problem(node, key, f"unsupported setting type {tp!r}")
        return got

    def variant(self, members: list[Any], node: Node, key: str) -> Any:
        if not isinstance(node, MappingNode):
            self.problem(node, key, "must be a mapping of keys", self.python(node))
            return None
        tag_field = next(
            (n for n in ("type", "kind") if n in {f.name for f in dataclasses.fields(members[0])}),
            "type",
        )
        choices = {typing.get_args(typing.get_type_hints(m)[tag_field])[0]: m for m in members}
        for k, v in node.value:
            if self.python(k) == tag_field:
                got = self.python(v)
                if got in choices:
                    return self.dataclass(choices[got], node, key)
                self.problem(v, f"{key}.{tag_field}", f"must be one of {', '.join(choices)}", got)
                return None
        self.problem(node, f"{key}.{tag_field}", f"required: one of {', '.join(choices)}")
        return None


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def load_settings(path: Path) -> Settings:
    """Load and validate a config file, or raise ConfigError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such config file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read ({exc})"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([f"{path}:{line}: invalid YAML: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: invalid YAML: {exc}"]) from None
    builder = _Builder(str(path), path.resolve().parent)
    settings = builder.dataclass(Settings, node, "")
    if builder.problems or settings is None:
        raise ConfigError(builder.problems or [f"{path}: not a usable config"])
    return settings


def apply_overrides(settings: Settings, overrides: dict[str, str]) -> Settings:
    """Settings with ``key.path -> YAML scalar`` overrides applied and validated."""
    builder = _Builder("--set", Path.cwd())
    for key, text in overrides.items():
        try:
            node = yaml.compose(text or "''", Loader=yaml.SafeLoader)
            assert node is not None
        except yaml.YAMLError:
            builder.problems.append(f"--set {key}: not a valid value (got {_short(text)})")
            continue
        settings = _replace_path(settings, key.split("."), node, key, builder)
    if builder.problems:
        raise ConfigError(builder.problems)
    return settings


def _replace_path(obj: Any, parts: list[str], node: Node, key: str, builder: _Builder) -> Any:
    name = parts[0]
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if name not in fields:
        close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        builder.problems.append(f"--set {key}: unknown key{hint}")
        return obj
    if len(parts) == 1:
        before = len(builder.problems)
        tp = typing.get_type_hints(type(obj))[name]
        value = builder.value(tp, node, key, fields[name].metadata)
        return obj if len(builder.problems) > before else dataclasses.replace(obj, **{name: value})
    child = getattr(obj, name)
    if not dataclasses.is_dataclass(child):
        builder.problems.append(f"--set {key}: {name} has no keys below it")
        return obj
    return dataclasses.replace(obj, **{name: _replace_path(child, parts[1:], node, key, builder)})


def check_config(path: Path, out: TextIO, err: TextIO) -> int:
    """`voice-kiosk check-config`: 0 and one summary line, or 2 and one line per problem."""
    try:
        s = load_settings(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        return 2
    n_tools = len(getattr(s.tools, "items", ()) or ())
    print(
        f"{path}: OK (model {s.realtime.model}, input {s.audio.input.type}, "
        f"output {s.audio.output.type}, {n_tools} tool{'s' if n_tools != 1 else ''})",
        file=out,
    )
    return 0
