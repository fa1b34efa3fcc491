"""Validation helpers for scenario files, fault switches and control requests (pure).

Each raises `ScenarioError` with one line naming the key path and the problem.
"""

from __future__ import annotations

from typing import Any


class ScenarioError(ValueError):
    """A scenario or fault that cannot be used; the message names the key path and the problem."""


def kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{path}: expected a mapping, got {kind(value)}")
    return value


def known(d: dict[str, Any], path: str, keys: set[str]) -> None:
    for key in d:
        if key not in keys:
            raise ScenarioError(
                f"{path}: unknown key {key!r} (expected one of {', '.join(sorted(keys))})"
            )


def text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScenarioError(f"{path}: expected a non-empty string, got {value!r}")
    return value


def integer(value: Any, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ScenarioError(f"{path}: expected an integer from {lo} to {hi}, got {value!r}")
    return value


def flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError(f"{path}: expected true or false, got {value!r}")
    return value
