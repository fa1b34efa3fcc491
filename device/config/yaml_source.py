"""The YAML source of a config: read safely, composed into nodes that keep their line numbers.

Nothing here knows the settings; ``device/config/builder.py`` turns the nodes into them.
Every refusal is a ``ConfigError`` of one line, ``FILE:LINE: problem`` or ``FILE: problem``.

Limits, so a careless or hostile file is answered at once:

- a config file is a regular file of at most ``MAX_FILE_BYTES``; it is opened without
  blocking (a FIFO with no writer, ``/dev/zero`` or a folder are refused before any read);
- collections nest at most ``MAX_DEPTH`` levels;
- aliases (``*name``, ``<<: *name``) expand to at most ``MAX_ALIAS_NODES`` nodes in all
  ("billion laughs" is refused while composing, before anything walks the tree); an alias
  inside the node it names (a recursive structure) is refused;
- only the core YAML tags (``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``,
  ``!!seq``, ``!!map`` and the implicit timestamp and merge) are accepted (``scan``).

Example::

    root = compose(read_text(path), str(path))       # or ConfigError
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from device.common.problems import SECRET_HINT, ConfigError, is_secret_header, is_secret_key

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_ALIAS_NODES = 10_000

_CORE = "tag:yaml.org,2002:"
NULL_TAG = _CORE + "null"
BOOL_TAG = _CORE + "bool"
STR_TAG = _CORE + "str"
CORE_TAGS = frozenset(
    _CORE + name for name in ("null", "bool", "int", "float", "str", "seq", "map", "timestamp")
) | {_CORE + "merge"}
_CONSTRUCTOR = SafeConstructor()
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed

Report = Callable[[Node | None, str, str], None]  # (node, key path, message)


def line_of(node: Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def is_null(node: Node | None) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL_TAG


def join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def scalar_python(node: ScalarNode) -> Any:
    """The scalar as Python; a core tag's bad value (``!!float fast``) stays its text."""
    construct = _CONSTRUCTOR.yaml_constructors.get(node.tag) if node.tag in CORE_TAGS else None
    if construct is None:
        return node.value
    try:
        return construct(_CONSTRUCTOR, node)
    except Exception:  # ValueError, KeyError (!!bool maybe), OverflowError...: just text
        return node.value


# -- reading -------------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """The file's text; it must be a regular UTF-8 file of at most MAX_FILE_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such config file"]) from None
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or "not a usable path"
        raise ConfigError([f"{path}: cannot read: {why}"]) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError([f"{path}: is a folder, not a config file"])
        if not stat.S_ISREG(mode):
            kind = _kind(mode)
            raise ConfigError([f"{path}: is {kind}, not a regular file: give a YAML file"])
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise ConfigError(
            [f"{path}: larger than {MAX_FILE_BYTES:,} bytes, the limit for a config file"]
        )
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: cannot read: not UTF-8 text"]) from None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


# -- composing -----------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.line = mark.line + 1 if mark is not None else None
        self.message = message


@dataclass
class _Open:
    node: SequenceNode | MappingNode
    size: int = 1  # expanded nodes so far, aliases counted in full
    key: Node | None = None


@dataclass
class _Composer:
    """Builds nodes from parser events without recursion, enforcing the limits."""

    loader: Any
    stack: list[_Open] = field(default_factory=list)
    anchors: dict[str, Node] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)
    alias_nodes: int = 0
    root: Node | None = None
    documents: int = 0

    def run(self) -> Node | None:
        loader = self.loader
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                self.documents += 1
                if self.documents > 1:
                    raise _Refused(event.start_mark, "more than one YAML document (---) in a file")
                self.anchors = {}
            elif isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(ScalarNode, event.value, event.implicit)
                style = event.style or None  # libyaml says '' for plain, PyYAML None
                marks: Any = (event.start_mark, event.end_mark)  # libyaml has its own Mark
                node = ScalarNode(tag, event.value, marks[0], marks[1], style)
                self._anchor(event.anchor, node)
                self._attach(node, 1)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                self._start(event)
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                done = self.stack.pop()
                done.node.end_mark = event.end_mark
                self.sizes[id(done.node)] = done.size
                self._attach(done.node, done.size)
            elif isinstance(event, yaml.AliasEvent):
                self._alias(event)
        return self.root

    def _start(self, event: Any) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise _Refused(event.start_mark, f"nested more than {MAX_DEPTH} levels deep")
        is_seq = isinstance(event, yaml.SequenceStartEvent)
        kind = SequenceNode if is_seq else MappingNode
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(kind, None, event.implicit)
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        self._anchor(event.anchor, node)
        self.stack.append(_Open(node))

    def _alias(self, event: Any) -> None:
        target = self.anchors.get(event.anchor)
        if target is None:
            raise _Refused(event.start_mark, f"found undefined alias *{event.anchor}")
        size = self.sizes.get(id(target))
        if size is None:
            raise _Refused(event.start_mark, f"alias *{event.anchor} is inside the node it names")
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise _Refused(
                event.start_mark,
                f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (anchors and aliases "
                "that multiply: refused)",
            )
        self._attach(target, size)

    def _anchor(self, anchor: str | None, node: Node) -> None:
        if anchor is not None:
            self.anchors[anchor] = node
        if isinstance(node, ScalarNode):
            self.sizes[id(node)] = 1

    def _attach(self, node: Node, size: int) -> None:
        if not self.stack:
            self.root = node
            return
        top = self.stack[-1]
        top.size += size
        if isinstance(top.node, SequenceNode):
            top.node.value.append(node)
        elif top.key is None:
            top.key = node
        else:
            top.node.value.append((top.key, node))
            top.key = None


def compose(text: str, where: str) -> Node | None:
    """Parse YAML keeping line marks; a syntax error or a limit is one ConfigError line."""
    loader = _Loader(text)
    try:
        return _Composer(loader).run()
    except _Refused as exc:
        line = f":{exc.line}" if exc.line else ""
        raise ConfigError([f"{where}{line}: {exc.message}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([_syntax_line(text, where, exc)]) from None
    finally:
        loader.dispose()


def _syntax_line(text: str, where: str, first: yaml.YAMLError) -> str:
    """The syntax error in PyYAML's words (libyaml's differ), as one line."""
    exc: yaml.YAMLError = first
    if "nesting depth" in str(first):  # libyaml's own limit (PyYAML would take seconds)
        mark = getattr(first, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        return f"{where}{line}: nested more than {MAX_DEPTH} levels deep"
    if _Loader is not yaml.SafeLoader:
        loader = yaml.SafeLoader(text)
        try:
            while loader.check_event():
                loader.get_event()
        except yaml.YAMLError as pure:
            exc = pure
        finally:
            loader.dispose()
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "unreadable"
        if exc.context and exc.problem and exc.context_mark and exc.context_mark is not mark:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        if "'\\t'" in problem:
            problem += "; indent with spaces, not tabs"
        return f"{where}{line}: invalid YAML: {problem}"
    return f"{where}: invalid YAML: {' '.join(str(exc).split())[:200]}"


# -- the pre-pass: merges, duplicate keys, tags, secrets --------------------------------------


@dataclass
class Scan:
    """Expands ``<<`` merges, reports duplicate keys, non-core tags and secret-named keys.

    Afterwards ``secret_keys`` holds the ids of key nodes refused as secrets and
    ``secret_values`` the ids of every node under them, and under the ``value`` of a
    header-like mapping whose ``name`` is a secret header (``Authorization``...): those
    nodes are never displayed, whatever their type.
    """

    report: Report
    bad_tags: set[int] = field(default_factory=set)  # nodes refused for their tag
    secret_keys: set[int] = field(default_factory=set)
    secret_values: set[int] = field(default_factory=set)
    _seen: set[int] = field(default_factory=set)

    def run(self, node: Node | None, key: str) -> None:
        if node is None or id(node) in self._seen:
            return
        self._seen.add(id(node))
        if node.tag not in CORE_TAGS:
            self.report(node, key or "(top level)", f"unsupported YAML tag {short_tag(node.tag)}")
            self.bad_tags.add(id(node))
        if isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                self.run(item, f"{key}[{i}]")
        elif isinstance(node, MappingNode):
            self._mapping(node, key)

    def _mapping(self, node: MappingNode, key: str) -> None:
        first: dict[str, Node] = {}
        for k, _ in node.value:
            name = str(k.value) if isinstance(k, ScalarNode) else ""
            if not name or name == "<<":
                continue
            if name in first:
                where = f"first at line {line_of(first[name])}"
                self.report(k, join(key, name), f"duplicate key ({where})")
            else:
                first[name] = k
        constructor = SafeConstructor()
        try:
            constructor.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            self.report(node, key or "(top level)", f"bad merge: {exc.problem}")
            node.value = [(k, v) for k, v in node.value if getattr(k, "value", None) != "<<"]
        secret_header = any(
            getattr(k, "value", None) == "name"
            and isinstance(v, ScalarNode)
            and is_secret_header(str(v.value))
            for k, v in node.value
        )
        for k, v in node.value:
            name = str(k.value) if isinstance(k, ScalarNode) else ""
            path = join(key, name)
            harmless = isinstance(v, ScalarNode) and v.tag in (NULL_TAG, BOOL_TAG)
            if name and is_secret_key(name) and not harmless:
                self.report(k, path, SECRET_HINT)
                self.secret_keys.add(id(k))
                self.hide(v)
            elif secret_header and name == "value":
                self.hide(v)
                self.run(v, path)
            else:
                self.run(v, path)

    def hide(self, node: Node) -> None:
        """Mark ``node`` and everything under it as never to be displayed."""
        todo = [node]
        while todo:
            item = todo.pop()
            if id(item) in self.secret_values:
                continue
            self.secret_values.add(id(item))
            if isinstance(item, SequenceNode):
                todo.extend(item.value)
            elif isinstance(item, MappingNode):
                todo.extend(n for pair in item.value for n in pair)


# -- lines for problems found after building ------------------------------------------------

_KEY_PART = re.compile(r"[^.\[\]]+|\[\d+\]")


def locate(where: str, root: Node | None, problem: str) -> str:
    """``key.path[0].name: message`` as ``FILE:LINE: key.path[0].name: message``."""
    key = problem.split(": ", 1)[0]
    node, line = root, 1
    for part in _KEY_PART.findall(key):
        if isinstance(node, SequenceNode) and part.startswith("["):
            index = int(part[1:-1])
            node = node.value[index] if index < len(node.value) else None
        elif isinstance(node, MappingNode):
            found = [(k, v) for k, v in node.value if getattr(k, "value", None) == part]
            node = found[-1][1] if found else None
            if found:
                line = line_of(found[-1][0])
        else:
            break
        if node is None:
            break
    return f"{where}:{line}: {problem}"
