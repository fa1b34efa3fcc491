"""``--set key.path=value`` overrides, checked like the file (see ``apply_overrides``)."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

from yaml.nodes import Node, ScalarNode

from device.common.problems import SECRET_HINT, ConfigError, is_secret_key
from device.config.builder import DISCRIMINATORS, INVALID, Builder
from device.config.settings import Settings
from device.config.yaml_source import compose

__all__ = ["apply_overrides"]


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
            node = compose(text or "''", "")
        except ConfigError as exc:
            problems.append(f"--set {key}{re.sub(r'^:[0-9]+', '', exc.problems[0])}")
            continue
        assert node is not None
        builder = Builder(lambda _node: "--set ", Path.cwd())
        builder.scan.run(node, key)
        updated = _replace_path(settings, key.split("."), node, key, builder)
        problems += builder.lines()
        if updated is not INVALID and not builder.problems:
            settings = updated
    if problems:
        raise ConfigError(problems)
    return settings


def _replace_path(obj: Any, parts: list[str], node: Node, key: str, builder: Builder) -> Any:
    """``obj`` with the field at ``parts`` set from ``node``; INVALID after a problem."""
    name, rest = parts[0], parts[1:]
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if name not in fields:
        builder.problem(None, key, builder.unknown(name, list(fields), None))
        return INVALID
    tp, child = typing.get_type_hints(type(obj))[name], getattr(obj, name)
    meta = fields[name].metadata
    if not rest:
        if name in DISCRIMINATORS and typing.get_origin(tp) is typing.Literal:
            if isinstance(node, ScalarNode) and node.value == child:
                return obj
            section = key.rsplit(".", 1)[0]
            builder.problem(
                None, key, f"set the whole section to change its {name}: --set '{section}={{...}}'"
            )
            return INVALID
        value = builder.value(tp, node, key, meta)
    elif dataclasses.is_dataclass(child) and not isinstance(child, type):
        value = _replace_path(child, rest, node, key, builder)
    elif isinstance(child, dict) and len(rest) == 1 and typing.get_origin(tp) is dict:
        entry = builder.value(typing.get_args(tp)[1], node, key, meta)
        value = INVALID if entry is INVALID else {**child, rest[0]: entry}
    else:
        builder.problem(None, key, f"'{name}' has no keys below it")
        return INVALID
    if value is INVALID:
        return INVALID
    try:
        return dataclasses.replace(obj, **{name: value})
    except (TypeError, ValueError) as exc:
        builder.problem(None, key, str(exc).splitlines()[0])
        return INVALID
