"""Folding repeats of one warning into one line with a count.

`Folder` is the pure rule (time passed in); `RepeatFolder` applies it to a logger. The
first occurrence of a key is shown; further ones within ``window_ms`` are counted, not
shown; the next one shown after the window says how many were left out, and ``flush``
(at the end of a run or a connection) reports any still counted.

Example::

    folder = Folder(window_ms=10_000)
    folder.offer("malformed", now_ms=0)      # 0: show it (nothing folded before)
    folder.offer("malformed", now_ms=5)      # None: folded
    folder.offer("malformed", now_ms=20_000) # 1: show it, say "1 more like it"
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_WINDOW_MS = 10_000.0
_MAX_KEYS = 256


@dataclass(slots=True)
class _Seen:
    shown_at_ms: float
    folded: int = 0


class Folder:
    """Which repeats to show: see the module docstring. Holds at most 256 keys."""

    def __init__(self, window_ms: float = DEFAULT_WINDOW_MS) -> None:
        self.window_ms = window_ms
        self._seen: dict[str, _Seen] = {}

    def offer(self, key: str, now_ms: float) -> int | None:
        """None: fold this one. Otherwise show it; the int is how many were folded before."""
        seen = self._seen.get(key)
        if seen is None or now_ms - seen.shown_at_ms >= self.window_ms:
            folded = seen.folded if seen is not None else 0
            if seen is None and len(self._seen) >= _MAX_KEYS:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = _Seen(now_ms)
            return folded
        seen.folded += 1
        return None

    def drain(self) -> dict[str, int]:
        """Keys with repeats folded since they were last shown, and how many; then forget."""
        out = {key: s.folded for key, s in self._seen.items() if s.folded}
        self._seen.clear()
        return out


class RepeatFolder:
    """A warning that may come in floods (malformed frames): one line, then counts.

    ``warn(detail)`` logs ``"<what>: <detail>"`` unless it repeats within the window;
    ``flush()`` logs ``"<what>: N more like it"`` for what was folded.
    """

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        window_ms: float = DEFAULT_WINDOW_MS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._what = what
        self._clock = clock
        self._folder = Folder(window_ms)

    def warn(self, detail: str) -> None:
        folded = self._folder.offer(self._what, self._clock() * 1000.0)
        if folded is None:
            return
        more = f" ({folded} more like it before this)" if folded else ""
        self._log.warning("%s: %s%s", self._what, detail, more)

    def flush(self) -> None:
        for _key, count in self._folder.drain().items():
            self._log.warning("%s: %d more like it", self._what, count)
