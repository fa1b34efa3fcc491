"""How long recordings are kept: a retention period, then a size cap, oldest first.

`to_delete` is pure: given the entries of the recordings folder (a conversation's folder is
one entry: its files together, aged by the newest of them), ``now_s`` and the limits, it
says which entries go: every one last written more than ``max_age_s`` ago, then the oldest
until the rest fit in ``max_bytes``. The conversation being written (``keep``) is never
deleted. `sweep` is its adapter: it reads the folder (without following a link), applies
the decision, and deletes inside the folder only (a link found there is removed, never
followed).

Example::

    gone = sweep(Path("/var/lib/voice-kiosk/recordings"), now_s=time.time(),
                 max_age_s=30 * 86400, max_bytes=500_000_000, keep={"20250601T...-conv-3"})
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of the recordings folder: a conversation's folder, or a stray file."""

    name: str
    bytes: int
    mtime_s: float  # the newest write in it, s since the epoch


def to_delete(
    entries: Iterable[Entry],
    *,
    now_s: float,
    max_age_s: float,
    max_bytes: int,
    keep: Collection[str] = (),
) -> list[str]:
    """The names to delete, oldest first (see the module docstring)."""
    by_age = sorted(entries, key=lambda e: (e.mtime_s, e.name))
    gone = [e.name for e in by_age if e.name not in keep and now_s - e.mtime_s > max_age_s]
    left = [e for e in by_age if e.name not in gone]
    total = sum(e.bytes for e in left)
    for entry in left:
        if total <= max_bytes:
            break
        if entry.name in keep:
            continue
        gone.append(entry.name)
        total -= entry.bytes
    return gone


def _entry(root_fd: int, name: str) -> Entry:
    st = os.lstat(name, dir_fd=root_fd)
    if not stat.S_ISDIR(st.st_mode):
        return Entry(name, st.st_size, st.st_mtime)
    size, newest = 0, st.st_mtime
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root_fd)
    try:
        for _, _, files, dir_fd in os.fwalk(".", dir_fd=fd):  # never follows a link
            for file in files:
                f = os.lstat(file, dir_fd=dir_fd)
                size += f.st_size
                newest = max(newest, f.st_mtime)
    finally:
        os.close(fd)
    return Entry(name, size, newest)


def entries(root_fd: int) -> list[Entry]:
    """The entries of the recordings folder opened as ``root_fd``."""
    out = []
    for name in os.listdir(root_fd):
        try:
            out.append(_entry(root_fd, name))
        except FileNotFoundError:
            continue
    return out


def remove(root_fd: int, name: str) -> None:
    """Delete ``name`` inside the folder ``root_fd``: a folder with everything in it, a
    file, or a link (the link only)."""
    st = os.lstat(name, dir_fd=root_fd)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=root_fd)
    else:
        os.unlink(name, dir_fd=root_fd)


def sweep_fd(
    root_fd: int, *, now_s: float, max_age_s: float, max_bytes: int, keep: Collection[str] = ()
) -> list[str]:
    """Apply `to_delete` to the folder ``root_fd``; the names deleted."""
    names = to_delete(
        entries(root_fd), now_s=now_s, max_age_s=max_age_s, max_bytes=max_bytes, keep=keep
    )
    done = []
    for name in names:
        try:
            remove(root_fd, name)
            done.append(name)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("recording: cannot delete %s: %s", name, exc)
    if done:
        log.info("recording: deleted %d old recording(s): %s", len(done), ", ".join(done[:5]))
    return done


def sweep(
    root: Path, *, now_s: float, max_age_s: float, max_bytes: int, keep: Collection[str] = ()
) -> list[str]:
    """`sweep_fd` on the folder ``root`` (which must not be a link)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        return sweep_fd(fd, now_s=now_s, max_age_s=max_age_s, max_bytes=max_bytes, keep=keep)
    finally:
        os.close(fd)
