"""Logging to journald with structured fields, when systemd runs us; stderr otherwise.

Under systemd (stderr connected to the journal: ``$JOURNAL_STREAM`` names the device and
inode of our stderr, as systemd.exec(5) says to check) log records go to journald through
systemd-python's `JournalHandler`: PRIORITY from the level, SYSLOG_IDENTIFIER voice-kiosk,
and every upper-case ``extra=`` key as a field of its own. The house fields are ``VK_*``:

- ``VK_STATE`` and ``VK_CONVERSATION`` on every record (the `JournalContext` filter adds
  them from the reports it sees);
- what one report is about, through `report_fields`: ``VK_ERROR_CODE``, ``VK_TOOL``,
  ``VK_OUTCOME``, ``VK_SOURCE``, ``VK_WORKER``, ...

Field names must be upper case (journald drops lower-case ones: systemd-python 235 sends
``extra=`` keys as given). Read them with ``journalctl -u voice-kiosk -o verbose`` or
filter: ``journalctl -u voice-kiosk VK_ERROR_CODE=rate_limit_exceeded``.

Example::

    context = use_journal_if_under_systemd("info")   # None: keep logging to stderr
    log.warning("tool failed", extra=fields(tool="job_status", error_code="timeout"))
    if context is not None:
        sinks.append(context)    # VK_STATE / VK_CONVERSATION on every line
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping

from device.conversation.reports import (
    ConversationEnded,
    ConversationStarted,
    Report,
    StateChanged,
)
from device.conversation.state import ENDED, State
from device.services.log_fields import fields, report_fields

__all__ = [
    "IDENTIFIER",
    "JournalContext",
    "fields",
    "report_fields",
    "use_journal_if_under_systemd",
]

IDENTIFIER = "voice-kiosk"
"""SYSLOG_IDENTIFIER of our records (the unit's stdout lines carry the same)."""

Sender = Callable[..., object]
"""systemd.journal.send's shape: ``send(MESSAGE, **FIELDS)``."""


class JournalContext(logging.Filter):
    """A report sink and a logging filter: every record it passes gets ``VK_STATE`` and,
    during a conversation, ``VK_CONVERSATION`` (unless the call gave its own).

    Safe from any thread: ``filter`` only reads two attributes that ``report`` replaces.
    """

    def __init__(self) -> None:
        super().__init__()
        self.state = State.IDLE
        self.conversation: str | None = None

    def report(self, t_ms: float, report: Report) -> None:
        match report:
            case StateChanged(new=new):
                self.state = new
                if new in ENDED:
                    self.conversation = None
            case ConversationStarted(conversation_id=cid):
                self.conversation = cid
            case ConversationEnded():
                self.conversation = None
            case _:
                pass

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "VK_STATE"):
            record.VK_STATE = self.state.value
        if self.conversation is not None and not hasattr(record, "VK_CONVERSATION"):
            record.VK_CONVERSATION = self.conversation
        return True


def is_journal_stream(environ: Mapping[str, str], fd: int = 2) -> bool:
    """True when ``fd`` (stderr) is the journal stream systemd gave us: ``$JOURNAL_STREAM``
    is ``DEVICE:INODE`` of that stream (systemd.exec(5)); a set variable alone is not
    enough, a parent may have redirected stderr since."""
    value = environ.get("JOURNAL_STREAM", "")
    device, sep, inode = value.partition(":")
    if not sep:
        return False
    try:
        info = os.fstat(fd)
        return (info.st_dev, info.st_ino) == (int(device), int(inode))
    except (OSError, ValueError):
        return False


def journal_handler(context: JournalContext, *, sender: Sender | None = None) -> logging.Handler:
    """systemd-python's JournalHandler (``sender``: its send function, for tests) with
    ``context`` as its filter and SYSLOG_IDENTIFIER voice-kiosk."""
    from systemd.journal import JournalHandler, send

    handler = JournalHandler(sender_function=sender or send, SYSLOG_IDENTIFIER=IDENTIFIER)
    handler.addFilter(context)
    return handler


def use_journal_if_under_systemd(
    level: str | int,
    environ: Mapping[str, str] | None = None,
    *,
    stderr_fd: int = 2,
    sender: Sender | None = None,
) -> JournalContext | None:
    """Send the root logger to journald when our stderr is the journal (see the module
    docstring); returns the `JournalContext` to add to the daemon's report sinks.

    None, and logging untouched, when not under systemd or without systemd-python: the
    caller then sets up stderr as before. The root logger's handlers are replaced, so call
    this instead of ``logging.basicConfig``, not after it.
    """
    if not is_journal_stream(os.environ if environ is None else environ, stderr_fd):
        return None
    try:
        context = JournalContext()
        handler = journal_handler(context, sender=sender)
    except ImportError:
        return None
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return context
