"""One scalar YAML node to one typed setting value: the leaves of the settings builder.

``scalar_value`` returns the value or raises ``Refused`` with the words of the problem and
the value to show. Words follow the user, not Python: "must be a whole number",
"must be 0 or between 0.1 and 100", "must not be blank".
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from pathlib import Path
from typing import Any

from yaml.nodes import ScalarNode

from device.config.yaml_source import STR_TAG, scalar_python

__all__ = ["Refused", "describe", "in_range", "scalar_value", "short"]

_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class Refused(Exception):
    """The value does not fit: ``message`` says why, ``got`` is what to show (or ...)."""

    def __init__(self, message: str, got: Any = ...) -> None:
        super().__init__(message)
        self.message = message
        self.got = got


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def scalar_value(tp: Any, node: ScalarNode, meta: Any, base_dir: Path) -> Any:
    """``node`` as a ``tp`` (bool, int, float, str or Path), within ``meta``'s bounds."""
    got = scalar_python(node)
    plain = node.style is None
    if tp is bool:
        if isinstance(got, bool):
            return got
        raise Refused("must be true or false", got)
    if tp in (int, float):
        if tp is float and plain and isinstance(got, str) and _FLOAT_TEXT.fullmatch(got):
            got = float(got)  # 1e3: YAML 1.1 reads it as text
        if isinstance(got, bool) or not isinstance(got, int | float):
            raise Refused(f"must be {describe(tp)}", got)
        if tp is int and isinstance(got, float):
            raise Refused("must be a whole number", got)
        if not math.isfinite(got):
            raise Refused("must be a finite number", got)
        in_range(got, meta)
        return tp(got)
    if tp in (str, Path):
        if node.tag != STR_TAG and not plain:
            raise Refused(f"must be {describe(tp)}", got)
        text = node.value  # as written: `1.10` stays "1.10", `no` stays "no"
        if tp is str:
            if meta and meta.get("blank") is False and not text.strip():
                raise Refused("must not be blank")
            return text
        if not text.strip() or "\0" in text:
            raise Refused("must be a file path, not empty")
        path = Path(text).expanduser()
        return path if path.is_absolute() else (base_dir / path).resolve()
    raise Refused(f"unsupported setting type {_type_name(tp)}")


def in_range(got: float, meta: Any) -> None:
    """Nothing if ``got`` is within ``meta``'s min/max (or one of its ``also``), else Refused."""
    low = meta.get("min") if meta else None
    high = meta.get("max") if meta else None
    also = tuple(meta.get("also") or ()) if meta else ()
    if got in also:
        return
    either = "".join(f"{a:g} or " for a in also)
    if low is not None and high is not None and not low <= got <= high:
        raise Refused(f"must be {either}between {low:g} and {high:g}", got)
    if low is not None and got < low:
        raise Refused(f"must be {either}>= {low:g}", got)
    if high is not None and got > high:
        raise Refused(f"must be {either}<= {high:g}", got)


def describe(tp: Any) -> str:
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
