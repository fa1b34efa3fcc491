"""The log as a report sink: problems to the operator's log, folded when they repeat.

Sinks take reports through ``report(t_ms, report)`` (device/services/ports.py `Sink`); the
daemon's `ServiceHost` (device/services/host.py) hands every report to each.
"""

from __future__ import annotations

import logging

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
from device.services.log_fields import report_fields

log = logging.getLogger(__name__)

LOGGED = (
    ErrorReported,
    AudioDeviceChanged,
    WorkerFailed,
    ConversationStarted,
    ConversationEnded,
)
"""The reports `LogSink` writes a line for."""


class LogSink:
    """Problems to the log: errors as warnings (repeats of one code folded with a count),
    a device coming back at info, failed workers as errors. Words said are not logged."""

    def __init__(self, logger: logging.Logger | None = None, window_ms: float = 10_000) -> None:
        self._log = logger or logging.getLogger("device")
        self._folder = Folder(window_ms)

    def report(self, t_ms: float, report: Report) -> None:
        if not isinstance(report, LOGGED):
            return  # most reports: no line, so no fields made for one
        extra = report_fields(report)  # VK_* fields: journald keeps them, stderr drops them
        match report:
            case ErrorReported(code=code, message=message):
                folded = self._folder.offer(f"error:{code}", t_ms)
                if folded is not None:
                    more = f" ({folded} more like it before this)" if folded else ""
                    self._log.warning(
                        "%s: %s%s", one_line(code, 80), one_line(message), more, extra=extra
                    )
            case AudioDeviceChanged(ok=ok, message=message):
                if ok:
                    self._log.info("audio: %s", one_line(message), extra=extra)
                else:
                    self._log.warning("audio: %s", one_line(message), extra=extra)
            case WorkerFailed(name=name, error=error, restarted=restarted):
                then = "restarted" if restarted else "not restarted"
                self._log.error("%s failed: %s (%s)", name, one_line(error), then, extra=extra)
            case ConversationStarted(conversation_id=cid, source=source):
                self._log.info(
                    "conversation %s started (%s)", cid, one_line(source, 80), extra=extra
                )
            case ConversationEnded(reason=reason):
                self._log.info("conversation over: %s", one_line(reason), extra=extra)
                self.flush()
            case _:
                pass

    def flush(self) -> None:
        for key, count in self._folder.drain().items():
            self._log.warning("%s: %d more like it", key.removeprefix("error:"), count)
