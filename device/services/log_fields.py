"""Structured log fields (``VK_*``) saying what a report is about.

Every log line the daemon writes about a report carries them in ``extra=``; journald keeps
them as fields of their own (device/systemd/journal.py), a plain stderr log ignores them.
Values are outside text too (a server's error code): each is escaped to one line.
"""

from __future__ import annotations

from device.common.text import one_line
from device.conversation.reports import (
    AudioDeviceChanged,
    ConversationEnded,
    ConversationStarted,
    ErrorReported,
    Interrupted,
    Ready,
    Report,
    StateChanged,
    ToolReported,
    WorkerFailed,
)


def fields(**values: object) -> dict[str, str]:
    """``fields(tool="x", error_code=None)`` -> ``{"VK_TOOL": "x"}`` (None left out)."""
    return {
        f"VK_{key.upper()}": one_line(value, 200)
        for key, value in values.items()
        if value is not None
    }


def report_fields(report: Report) -> dict[str, str]:
    """The ``VK_*`` fields saying what ``report`` is about, for ``extra=`` of its log line."""
    match report:
        case StateChanged(old=old, new=new):
            return fields(state=new.value, state_old=old.value)
        case ConversationStarted(conversation_id=cid, source=source):
            return fields(conversation=cid, source=source)
        case ConversationEnded(outcome=outcome):
            return fields(outcome=outcome.value)
        case ErrorReported(code=code):
            return fields(error_code=code)
        case ToolReported(name=name, ok=ok, ms=ms):
            return fields(tool=name, tool_ok=int(ok), tool_ms=round(ms))
        case WorkerFailed(name=name, restarted=restarted):
            return fields(worker=name, worker_restarted=int(restarted))
        case AudioDeviceChanged(ok=ok):
            return fields(audio_ok=int(ok))
        case Interrupted(source=source):
            return fields(interrupt_source=source)
        case Ready(after_ms=after_ms, standby=standby, offline=offline):
            return fields(ready_ms=round(after_ms), standby=int(standby), offline=int(offline))
        case _:
            return {}
