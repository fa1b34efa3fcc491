"""firmware_config/default.yaml is the reference: every setting, documented, and correct.

A new setting without a line in default.yaml fails here, and so does a line in
default.yaml (even a commented-out one) for a setting that no longer exists.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from device.config.loader import load_settings
from device.config.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "firmware_config/default.yaml"

# `  key: value  # doc`, `  - key: value`, or the same commented out: `  #   key: value`
KEY_LINE = re.compile(
    r"^(?P<lead> *)(?P<hash># ?)?(?P<inner> *)(?P<dash>- +)?(?P<key>[\w-]+):(?: |$)"
)


COMMENT_COLUMN = 25  # a '#' this far right, alone on its line, continues the comment above
CONTINUATION = re.compile(r"^ *#? *#")  # `  #      # more words` inside a commented block


@dataclass
class KeyLine:
    number: int  # 1-based
    path: str  # dotted, list items as [] (tools.http[].url)
    indent: int
    commented: bool
    documented: bool  # a comment on the line or a prose comment on the line above
    text: str


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def scan(text: str) -> list[KeyLine]:
    """Every key of the file, active or commented out, with its full path."""
    keys: list[KeyLine] = []
    stack: list[tuple[int, str]] = []  # (indent, path) of the open sections
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        m = KEY_LINE.match(line)
        if not m or (m["hash"] and len(m["lead"]) >= COMMENT_COLUMN):
            continue  # prose: a comment continued on the next line, at the comment column
        indent = len(m["lead"]) + len(m["inner"])
        if m["dash"]:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            parent = stack[-1][1] if stack else ""
            stack.append((indent, parent + "[]"))
            indent += len(m["dash"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        path = f"{parent}.{m['key']}" if parent else m["key"]
        stack.append((indent, path))
        body = line[m.end() :]
        above = lines[number - 2] if number >= 2 else ""
        documented = " #" in " " + body or (_is_comment(above) and not KEY_LINE.match(above))
        keys.append(KeyLine(number, path, indent, bool(m["hash"]), documented, line))
    return keys


def settings_paths(cls: type, prefix: str = "") -> tuple[set[str], set[str]]:
    """(every field path of the tree over all union variants, the paths of dict fields)."""
    paths: set[str] = set()
    free: set[str] = set()
    for f in dataclasses.fields(cls):
        path = f"{prefix}{f.name}"
        paths.add(path)
        tp = typing.get_type_hints(cls)[f.name]
        if typing.get_origin(tp) is dict:
            free.add(path)
        for member, suffix in _members(tp):
            sub, sub_free = settings_paths(member, f"{path}{suffix}.")
            paths |= sub
            free |= sub_free
    return paths, free


def _members(tp: Any) -> list[tuple[type, str]]:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return [(tp, "")]
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(tp) for m in _members(arg)]
    if origin is tuple:
        return [(m, "[]") for arg in typing.get_args(tp) for m, _ in _members(arg)]
    return []


def rebase(value: Any, base: Path) -> Any:
    """Settings() as the loader sees it from a file in ``base``: relative paths resolved."""
    if isinstance(value, Path):
        return value if value.is_absolute() else (base / value).resolve()
    if isinstance(value, tuple):
        return tuple(rebase(v, base) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: rebase(getattr(value, f.name), base) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def test_default_yaml_is_exactly_the_defaults() -> None:
    assert load_settings(DEFAULT) == rebase(Settings(), DEFAULT.parent)


def test_every_setting_is_in_default_yaml() -> None:
    """A new setting (in any union variant) needs its line in the reference."""
    expected, _ = settings_paths(Settings)
    found = {k.path for k in scan(DEFAULT.read_text())}
    assert sorted(expected - found) == []


def test_default_yaml_has_no_stale_keys() -> None:
    """Commented-out keys are checked too: the loader only sees the active ones."""
    expected, free = settings_paths(Settings)
    stale = [
        f"line {k.number}: {k.path}"
        for k in scan(DEFAULT.read_text())
        if k.path not in expected and not any(k.path.startswith(p + ".") for p in free)
    ]
    assert stale == []


def test_every_key_has_a_comment() -> None:
    keys = scan(DEFAULT.read_text())
    undocumented = [f"line {k.number}: {k.text}" for k in keys if not k.documented]
    assert undocumented == []


def commented_blocks(text: str) -> list[tuple[str, str]]:
    """(parent path, YAML) of every commented-out block, uncommented at its real indent."""
    keys = scan(text)
    lines = text.splitlines()
    blocks: list[tuple[str, list[KeyLine]]] = []
    for key in keys:
        prev_line = lines[key.number - 2] if key.number >= 2 else ""
        between = lines[blocks[-1][1][-1].number : key.number - 1] if blocks else []
        adjacent = bool(blocks) and all(CONTINUATION.match(line) for line in between)
        continues = adjacent and prev_line
        if key.commented and continues and key.indent > blocks[-1][1][0].indent:
            blocks[-1][1].append(key)
        elif key.commented:
            parent = key.path.rsplit(".", 1)[0] if "." in key.path else ""
            blocks.append((parent, [key]))
    out = []
    for parent, block in blocks:
        body = "".join(re.sub(r"^( *)# ?", r"\1", lines[k.number - 1]) + "\n" for k in block)
        head = (
            "".join("  " * i + part + ":\n" for i, part in enumerate(parent.split(".")))
            if parent
            else ""
        )
        out.append((block[0].path, head + body))
    return out


def test_commented_variants_and_examples_load(tmp_path: Path) -> None:
    """Uncommenting any commented-out block of default.yaml gives a valid config."""
    blocks = commented_blocks(DEFAULT.read_text())
    assert {path for path, _ in blocks} >= {
        "realtime.turn_detection",
        "audio.input",
        "audio.output",
    }
    for path, text in blocks:
        config = tmp_path / "block.yaml"
        # the example tools reach these hosts: a real config allowlists them
        hosts = "  allow_hosts: [jobs.example.com, hooks.example.com]\n"
        config.write_text(text.replace("tools:\n", "tools:\n" + hosts, 1))
        settings = load_settings(config)
        value: Any = settings
        for part in path.split("."):
            value = getattr(value, part)
        assert value is not None, path


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("a:\n  b: 1 # x\n  # c:\n  #   d: 2  # y\n", ["a", "a.b", "a.c", "a.c.d"]),
        ("t:\n  items:\n    - name: x\n      url: y\n    - name: z\n", None),
    ],
)
def test_the_scanner_itself(text: str, paths: list[str] | None) -> None:
    got = [k.path for k in scan(text)]
    assert got == (paths or ["t", "t.items", "t.items[].name", "t.items[].url", "t.items[].name"])


def _numbers(cls: type, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, field) of every int or float setting, in every variant and list item."""
    found: list[tuple[str, Any]] = []
    for f in dataclasses.fields(cls):
        path = f"{prefix}{f.name}"
        tp = typing.get_type_hints(cls)[f.name]
        scalars = [a for a in _flat(tp) if a in (int, float)]
        if scalars:
            found.append((path, f))
        for member, suffix in _members(tp):
            found += _numbers(member, f"{path}{suffix}.")
    return found


def _flat(tp: Any) -> list[Any]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(tp) for a in _flat(arg)]
    return [tp]


def _g(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def test_every_number_has_a_range_stated_in_default_yaml() -> None:
    """A real device needs a maximum too: 1e300 s retries or a 1e12 ms tail are refused."""
    lines: dict[str, str] = {}
    for key in scan(DEFAULT.read_text()):
        lines[key.path] = lines.get(key.path, "") + key.text.replace(",", "")
    missing = []
    for path, f in _numbers(Settings):
        low, high = f.metadata.get("min"), f.metadata.get("max")
        if low is None or high is None:
            missing.append(f"{path}: no min or max in its option()")
        elif path in lines and _g(high) not in lines[path]:
            missing.append(f"{path}: default.yaml does not state the maximum {_g(high)}")
    assert missing == []
