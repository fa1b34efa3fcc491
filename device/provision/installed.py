"""The installed copy of a site's config: the site's file, plus one key when it is unset (pure).

A site's file is installed as it is, comments and all, with one exception: a file that
does not set ``conversation.prompts_dir`` gets the line ``prompts_dir: PROMPTS_DIR``
(``/etc/voice-kiosk/prompts``, where provisioning makes the prompts in the site's words),
inserted as the first key of its ``conversation:`` section, or a new section at the end.
Everything else is left byte for byte, so the installed file is the site's file.

Example::

    text = installed_text(source_text, PROMPTS_DIR)   # or InstallError naming the problem
"""

from __future__ import annotations

from pathlib import PurePosixPath

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

MARK = "# added by voice-kiosk provision: the site's prompts"


class InstallError(Exception):
    """The file cannot take the key; the message is one line saying what to do."""


def installed_text(source: str, prompts_dir: PurePosixPath) -> str:
    """``source`` with ``conversation.prompts_dir: prompts_dir`` added where it is unset."""
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:  # the loader has already said it better; still one line
        raise InstallError(f"not YAML: {str(exc).splitlines()[0]}") from None
    line = f"prompts_dir: {prompts_dir}  {MARK}"
    if root is None or (isinstance(root, ScalarNode) and root.value == ""):
        return _end(source) + f"conversation:\n  {line}\n"
    if not isinstance(root, MappingNode) or root.flow_style:
        raise _cannot()
    section = _value(root, "conversation")
    if section is None:
        column = root.value[0][0].start_mark.column if root.value else 0
        return _end(source) + f"{' ' * column}conversation:\n{' ' * (column + 2)}{line}\n"
    if not isinstance(section, MappingNode) or section.flow_style or not section.value:
        raise _cannot()
    if _value(section, "prompts_dir") is not None:  # null: the packaged prompts
        raise InstallError(
            f"conversation.prompts_dir: null: remove the line (provisioning sets it to "
            f"{prompts_dir}, with the prompts in the site's words) or name the site's folder"
        )
    first = section.value[0][0].start_mark
    lines = source.splitlines(keepends=True)
    if lines[first.line][: first.column].strip():
        raise _cannot()
    lines.insert(first.line, f"{' ' * first.column}{line}\n")
    return "".join(lines)


def _value(mapping: MappingNode, key: str) -> Node | None:
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return v
    return None


def _end(source: str) -> str:
    return source if source == "" or source.endswith("\n") else source + "\n"


def _cannot() -> InstallError:
    return InstallError(
        "conversation.prompts_dir: not set, and provisioning cannot add it to this file's "
        "layout: set it yourself (to a folder of the site's prompts)"
    )
