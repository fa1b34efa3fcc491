"""Composed YAML nodes to typed settings: the generic builder behind ``device.config.loader``.

It walks the settings dataclasses' type hints and the ``option()`` metadata
(device/common/options.py), so a new setting needs no code here. Every problem is recorded with
the node it is about, one line each (``FILE:LINE: key.path: what is wrong (got VALUE)``);
values under secret-named keys or secret headers are never displayed (``Scan`` in
device/config/yaml_source.py marks them). Which key a settings check's message is about,
and what to suggest for an unknown key: device/config/keys.py.

Example::

    settings = load_as(Settings, Path("kiosk.yaml"))   # or ConfigError
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from device.common.problems import ConfigError
from device.config.keys import key_named, unknown_key
from device.config.values import Refused, describe, scalar_value, short
from device.config.yaml_source import (
    Scan,
    compose,
    is_null,
    join,
    line_of,
    read_text,
    scalar_python,
)

__all__ = ["DISCRIMINATORS", "INVALID", "Builder", "describe", "load_as"]

T = TypeVar("T")

DISCRIMINATORS = ("type", "kind")
INVALID: Any = object()  # a value that failed validation (its problem is already recorded)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of a settings class (resolving them is slow: once per class)."""
    return typing.get_type_hints(cls)


def _kind_of(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, MappingNode):
        return "a mapping"
    return "a value"


class Builder:
    """Builds settings objects from composed YAML nodes, recording every problem."""

    def __init__(self, prefix: Callable[[Node | None], str], base_dir: Path) -> None:
        self.prefix = prefix
        self.base_dir = base_dir
        self.problems: list[tuple[int, str]] = []
        self.scan = Scan(self.report)

    @property
    def secret_keys(self) -> set[int]:
        return self.scan.secret_keys

    def report(self, node: Node | None, key: str, message: str) -> None:
        self.problems.append((line_of(node), f"{self.prefix(node)}{key}: {message}"))

    def problem(self, node: Node | None, key: str, message: str, got: Any = ...) -> None:
        if got is ...:
            suffix = ""
        elif node is not None and id(node) in self.scan.secret_values:
            suffix = f" (got {_kind_of(node)}, not shown: it may be a secret)"
        else:
            suffix = f" (got {short(got)})"
        self.report(node, key, f"{message}{suffix}")

    def lines(self) -> list[str]:
        return [text for _, text in sorted(self.problems, key=lambda p: p[0])]

    def shown(self, node: Node, depth: int = 0) -> Any:
        """A node as plain Python for messages; secret values are masked."""
        if id(node) in self.scan.secret_values:
            return "***"
        if depth > 5:
            return ...
        if isinstance(node, ScalarNode):
            return scalar_python(node)
        if isinstance(node, SequenceNode):
            return [self.shown(item, depth + 1) for item in node.value[:10]]
        if isinstance(node, MappingNode):
            pairs = node.value[:10]
            return {str(self.shown(k, depth + 1)): self.shown(v, depth + 1) for k, v in pairs}
        return None

    def plain(self, node: Node, key: str, depth: int = 0) -> Any:
        """Free-form YAML (a JSON schema, say) as plain Python, at most 32 levels deep."""
        if depth > 32:
            self.problem(node, key, "nested more than 32 levels deep")
            return INVALID
        if isinstance(node, SequenceNode):
            items = [self.plain(item, key, depth + 1) for item in node.value]
            return INVALID if any(v is INVALID for v in items) else items
        if isinstance(node, MappingNode):
            out = {}
            for k, v in node.value:
                if not isinstance(k, ScalarNode):
                    self.problem(k, key, "keys must be plain names")
                    return INVALID
                value = self.plain(v, join(key, str(k.value)), depth + 1)
                if value is INVALID:
                    return INVALID
                out[str(scalar_python(k))] = value
            return out
        value = scalar_python(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(node, key, "must be a finite number", value)
            return INVALID
        if not isinstance(value, str | int | float | bool | None):
            return node.value if isinstance(node, ScalarNode) else None  # dates: as written
        return value

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
        if node is not None and not is_null(node) and not isinstance(node, MappingNode):
            what = key or "(top level)"
            self.problem(node, what, "must be a mapping of keys", self.shown(node))
            return INVALID
        hints = _hints(cls)
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
            path = join(key, name)
            if not key and name.startswith("x-"):
                continue  # top-level x-...: a place for YAML anchors, like docker compose
            if name not in fields:
                self.problem(key_node, path, unknown_key(name, list(fields), siblings))
                valid = False
                continue
            value = self.value(hints[name], value_node, path, fields[name].metadata, key_node)
            if value is INVALID:
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
                self.problem(at or node, join(key, name), "required key is missing")
                valid = False
        if not valid:
            return INVALID
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            named = key_named(message, pairs, fields)
            if named is None:
                self.problem(at or node, key or "(top level)", message)
                return INVALID
            # the line of the key the check is about, not of its section
            below, key_node, value_node = named
            message = message.removeprefix(f"{below}: ")
            if isinstance(value_node, ScalarNode) and "(got " not in message:
                message += f" (got {short(self.shown(value_node))})"
            self.report(key_node, join(key, below), message)
            return INVALID

    # the problem for a key no setting has (device/config/overrides.py asks it too)
    unknown = staticmethod(unknown_key)

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
        """Convert ``node`` to type ``tp``; on failure record a problem, return INVALID."""
        if id(node) in self.scan.bad_tags:
            return INVALID  # already refused for its tag: one line is enough
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            return self.union(args, node, key, meta, at)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self.dataclass(tp, node, key, at)
        if is_null(node):
            self.problem(node, key, f"must not be empty: give {describe(tp)}")
            return INVALID
        if origin is typing.Literal:
            return self.literal(args, node, key)
        if origin is tuple:
            return self.sequence(args, node, key, meta)
        if origin is dict:
            return self.mapping(args, node, key, meta)
        if tp in (object, Any):
            return self.plain(node, key)
        if not isinstance(node, ScalarNode):
            self.problem(node, key, f"must be {describe(tp)}", self.shown(node))
            return INVALID
        return self.scalar(tp, node, key, meta)

    def union(self, args: tuple[Any, ...], node: Node, key: str, meta: Any, at: Node | None) -> Any:
        members = [a for a in args if a is not type(None)]
        if is_null(node) and len(members) < len(args):
            return None
        if all(dataclasses.is_dataclass(m) for m in members) and len(members) > 1:
            return self.variant(members, node, key, at)
        if len(members) == 1:
            return self.value(members[0], node, key, meta, at)
        for member in members:  # mixed scalars, e.g. int | str: the first that fits
            trial = Builder(self.prefix, self.base_dir)
            trial.scan = self.scan
            result = trial.value(member, node, key, meta, at)
            if result is not INVALID:
                return result
        alternatives = " or ".join(describe(m) for m in members)
        self.problem(node, key, f"must be {alternatives}", self.shown(node))
        return INVALID

    def variant(self, members: list[Any], node: Node, key: str, at: Node | None) -> Any:
        """One of several dataclasses, chosen by their single-valued ``type``/``kind``."""
        names = {f.name for f in dataclasses.fields(members[0])}
        tag = next((n for n in DISCRIMINATORS if n in names), None)
        choices: dict[Any, type] = {}
        for member in members:
            hint = _hints(member).get(tag or "")
            if tag is None or typing.get_origin(hint) is not typing.Literal:
                self.problem(node, key, "unsupported setting type (no type/kind field)")
                return INVALID
            choices[typing.get_args(hint)[0]] = member
        allowed = ", ".join(str(c) for c in choices)
        if not isinstance(node, MappingNode):
            if is_null(node):
                self.problem(node, f"{key}.{tag}", f"required key is missing (one of {allowed})")
            else:
                self.problem(node, key, "must be a mapping of keys", self.shown(node))
            return INVALID
        tag_node = next((v for k, v in node.value if getattr(k, "value", None) == tag), None)
        if tag_node is None:
            self.problem(at or node, f"{key}.{tag}", f"required key is missing (one of {allowed})")
            return INVALID
        chosen = self._choice(tag_node, choices)
        if chosen is None:
            got = self.shown(tag_node)
            self.problem(tag_node, f"{key}.{tag}", f"must be one of {allowed}", got)
            return INVALID
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
        got = scalar_python(node)
        for value, member in choices.items():
            if type(value) is type(got) and value == got:
                return member
        return choices.get(node.value) if node.style is None else None

    def literal(self, args: tuple[Any, ...], node: Node, key: str) -> Any:
        allowed = ", ".join(str(a) for a in args)
        if isinstance(node, ScalarNode):
            got = scalar_python(node)
            for a in args:
                if type(a) is type(got) and a == got:
                    return a
            if node.style is None and node.value in args:  # `off`, `no`: text, not booleans
                return node.value
        self.problem(node, key, f"must be one of {allowed}", self.shown(node))
        return INVALID

    def sequence(self, args: tuple[Any, ...], node: Node, key: str, meta: Any) -> Any:
        if not isinstance(node, SequenceNode):
            self.problem(node, key, "must be a list", self.shown(node))
            return INVALID
        if len(args) == 2 and args[1] is Ellipsis:
            kinds = [args[0]] * len(node.value)
        elif len(args) != len(node.value):
            self.problem(node, key, f"must be a list of {len(args)} items", self.shown(node))
            return INVALID
        else:
            kinds = list(args)
        items = [
            self.value(tp, item, f"{key}[{i}]", meta)
            for i, (tp, item) in enumerate(zip(kinds, node.value, strict=True))
        ]
        return INVALID if any(v is INVALID for v in items) else tuple(items)

    def mapping(self, args: tuple[Any, ...], node: Node, key: str, meta: Any) -> Any:
        if not isinstance(node, MappingNode):
            self.problem(node, key, "must be a mapping", self.shown(node))
            return INVALID
        key_type, value_type = args
        out: dict[Any, Any] = {}
        valid = True
        for k, v in node.value:
            if id(k) in self.secret_keys:
                valid = False
                continue
            name = str(self.shown(k))
            path = join(key, name)
            dict_key = self.value(key_type, k, path)
            dict_value = self.value(value_type, v, path, meta, k)
            if dict_key is INVALID or dict_value is INVALID:
                valid = False
            else:
                out[dict_key] = dict_value
        return out if valid else INVALID

    def scalar(self, tp: Any, node: ScalarNode, key: str, meta: Any) -> Any:
        try:
            return scalar_value(tp, node, meta, self.base_dir)
        except Refused as refused:
            self.problem(node, key, refused.message, refused.got)
            return INVALID


def load_as(cls: type[T], path: Path) -> T:
    """Load a YAML file into any settings dataclass ``cls`` (load_settings uses Settings)."""
    return load_tree(cls, path)[0]


def load_tree(cls: type[T], path: Path) -> tuple[T, Node | None]:
    """``load_as``, and the composed nodes (to give later problems their lines)."""
    node = compose(read_text(path), str(path))
    builder = Builder(lambda n: f"{path}:{line_of(n)}: ", path.absolute().parent)
    builder.scan.run(node, "")
    result = builder.dataclass(cls, node, "")
    if builder.problems or result is INVALID:
        raise ConfigError(builder.lines() or [f"{path}: not a usable config"])
    return typing.cast(T, result), node
