"""Which key a config problem is about, for the builder (device/config/builder.py): the key
set in the file that a settings check's message names (so the problem gets that key's line,
not its section's), and what to suggest for a key that no setting has.

Example::

    key_named("close_db 5.0 is above open_db 0.0", pairs, fields)  # ("open_db", key, value)
    unknown_key("treshold", ["threshold"], None)  # "unknown key (did you mean 'threshold'?)"
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

__all__ = ["key_named", "unknown_key"]


def key_named(
    message: str, pairs: list[tuple[Node, Node]], fields: dict[str, Any]
) -> tuple[str, ScalarNode, Node] | None:
    """The key set in the file that a settings check's ``message`` names first, if any:
    its path below the section, its key node and its value node.

    ``pairs`` are the section's (key, value) nodes, ``fields`` its settings class's fields.
    ``channel 5 does not exist: channels is 2`` names channel first; ``close_db 5.0 is
    above open_db 0.0``, with only open_db set in the file, is about open_db;
    ``echo.raw_input needs ...`` is about raw_input inside echo, when the file sets it.
    """
    written: dict[str, tuple[ScalarNode, Node]] = {
        str(k.value): (k, v) for k, v in pairs if isinstance(k, ScalarNode) and k.value in fields
    }
    found: list[tuple[int, str, str]] = []
    for name in written:
        m = re.search(rf"(?<![\w.]){re.escape(name)}((?:\.\w+)*)(?!\w)", message)
        if m:
            found.append((m.start(), name, m.group(1)))
    if not found:
        return None
    _, name, below = min(found)
    path, (key_node, value_node) = name, written[name]
    for part in below.split(".")[1:]:  # down into the mapping while the file has the key
        inner = value_node.value if isinstance(value_node, MappingNode) else []
        pair = next((p for p in inner if isinstance(p[0], ScalarNode) and p[0].value == part), None)
        if pair is None:
            break
        path, key_node, value_node = f"{path}.{part}", pair[0], pair[1]
    return path, key_node, value_node


def unknown_key(name: str, known: list[str], siblings: dict[str, list[str]] | None) -> str:
    """The problem for key ``name`` that is none of ``known``: which variant of a union has
    it (``siblings``: field name -> the other variants' ``type X``), or the closest known
    key (same letters in another case first, then a near spelling)."""
    if siblings and name in siblings:
        owners = " or ".join(siblings[name])
        return f"unknown key here (only {owners} has it)"
    lowered = {k.lower(): k for k in known}
    close = [lowered[name.lower()]] if name.lower() in lowered else []
    if not close and len(name) <= 100:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"unknown key (did you mean '{close[0]}'?)" if close else "unknown key"
