"""Where reports go: a list of sinks, each picking what it shows.

Today: the timeline and the run summary (device/services/summary.py) and the log (`LogSink`). The
LED, systemd STATUS, metrics and staff-page issues add theirs beside them: a class with
``report(t_ms, report)``, appended to the daemon's sink list. A sink must return at once
(never block the loop: hand slow work to a task or a thread) and should not raise; one that
does is logged once and the others still get every report.

Example::

    fanout = Fanout([TimelineSink(sys.stdout), RunSummary(), LogSink()])
    fanout.emit(1234.0, StateChanged(State.IDLE, State.CONNECTING))
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from device.common.logfold import Folder
from device.common.text import one_line
from device.conversation.reports import (
    AudioDeviceChanged,
    ConversationEnded,
    ConversationStarted,
    ErrorReported,
    Report,
    WorkerFailed,
)

log = logging.getLogger(__name__)


class Sink(Protocol):
    def report(self, t_ms: float, report: Report) -> None:
        """Take one report (``t_ms``: ms since the daemon started). Must not block."""
        ...


class Fanout:
    """Hands every report to every sink; a sink that raises is logged once, then skipped
    for that report only (it gets the next ones)."""

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self.sinks: list[Sink] = list(sinks)
        self.failures: dict[int, int] = {}

    def add(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def emit(self, t_ms: float, report: Report) -> None:
        for sink in self.sinks:
            try:
                sink.report(t_ms, report)
            except Exception as exc:
                n = self.failures.get(id(sink), 0)
                self.failures[id(sink)] = n + 1
                if n == 0:
                    log.error(
                        "report sink %s failed (%s: %s); the daemon goes on",
                        type(sink).__name__,
                        type(exc).__name__,
                        one_line(exc, 200),
                    )


class LogSink:
    """Problems to the log: errors as warnings (repeats of one code folded with a count),
    a device coming back at info, failed workers as errors. Words said are not logged."""

    def __init__(self, logger: logging.Logger | None = None, window_ms: float = 10_000) -> None:
        self._log = logger or logging.getLogger("device")
        self._folder = Folder(window_ms)

    def report(self, t_ms: float, report: Report) -> None:
        match report:
            case ErrorReported(code=code, message=message):
                folded = self._folder.offer(f"error:{code}", t_ms)
                if folded is not None:
                    more = f" ({folded} more like it before this)" if folded else ""
                    self._log.warning("%s: %s%s", one_line(code, 80), one_line(message), more)
            case AudioDeviceChanged(ok=ok, message=message):
                if ok:
                    self._log.info("audio: %s", one_line(message))
                else:
                    self._log.warning("audio: %s", one_line(message))
            case WorkerFailed(name=name, error=error, restarted=restarted):
                then = "restarted" if restarted else "not restarted"
                self._log.error("%s failed: %s (%s)", name, one_line(error), then)
            case ConversationStarted(conversation_id=cid, source=source):
                self._log.info("conversation %s started (%s)", cid, one_line(source, 80))
            case ConversationEnded(reason=reason):
                self._log.info("conversation over: %s", one_line(reason))
                self.flush()
            case _:
                pass

    def flush(self) -> None:
        for key, count in self._folder.drain().items():
            self._log.warning("%s: %d more like it", key.removeprefix("error:"), count)
