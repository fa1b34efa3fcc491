"""Every relative link in README.md and docs/*.md resolves: the file exists and, for a
``#anchor``, the target has a heading with that GitHub-style slug. No network."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~)")
# [text](target) and ![alt](target); the text may hold `code` and nested [brackets]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^()\s<>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
INLINE_CODE = re.compile(r"`[^`]*`")


def _prose_lines(path: Path) -> list[tuple[int, str]]:
    """The file's lines outside fenced code blocks, with their numbers."""
    lines: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file, numbered -1, -2 ... on repeats as GitHub does."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose_lines(path):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """Relative link targets of a markdown file (not inside code), with their line numbers."""
    found: list[tuple[int, str]] = []
    for number, line in _prose_lines(path):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
                continue  # http:, https:, mailto: ...: not checked (no network)
            found.append((number, target))
    return found


def problems_of(path: Path, root: Path = ROOT) -> list[str]:
    """One line per link that does not resolve: ``FILE:LINE: target: what is wrong``."""
    problems: list[str] = []
    for number, target in links(path):
        where = f"{path.relative_to(root)}:{number}: {target}"
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{where}: no such file")
            continue
        if anchor:
            if dest.suffix != ".md" or dest.is_dir():
                problems.append(f"{where}: an anchor into a file that is not markdown")
            elif unquote(anchor).lower() not in anchors(dest):
                problems.append(f"{where}: no heading with that anchor in {dest.name}")
    return problems


def test_the_docs_exist() -> None:
    assert (ROOT / "README.md").is_file()
    assert len(DOCS) > 1, "docs/*.md"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    assert problems_of(path) == []


def test_slugs_follow_github() -> None:
    assert slug("Interrupting the device (barge-in) and echo") == (
        "interrupting-the-device-barge-in-and-echo"
    )
    assert slug("voice-kiosk doctor") == "voice-kiosk-doctor"
    assert slug("The API key and tool credentials") == "the-api-key-and-tool-credentials"
    assert slug("`make demo`: the demo") == "make-demo-the-demo"
    assert slug("Ports, `stats()` and `health()`") == "ports-stats-and-health"


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## A part\n", encoding="utf-8")
    page.write_text(
        "# Page\n\n[ok](other.md#a-part) [self](#page) [gone](missing.md)\n"
        "[bad anchor](other.md#nope) `[code](ignored.md)`\n\n```\n[fenced](ignored.md)\n```\n",
        encoding="utf-8",
    )
    found = [p.split(": ", 1)[1] for p in problems_of(page, tmp_path)]
    assert found == [
        "missing.md: no such file",
        "other.md#nope: no heading with that anchor in other.md",
    ]
