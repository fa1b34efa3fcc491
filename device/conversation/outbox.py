"""The outbox: the commands one visitor's session was sent, and the one retry of a refused
reply request.

A small pure machine of one visitor (device/conversation/visitor.py). Errors answer events:
a server error names the client event it answers (``client_event_id``), and the outbox says
whether that event was ours. It keeps the books; the engine decides.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from device.conversation.commands import Send
from device.conversation.outputs import Output
from device.realtime.commands import LinkCommand

SENT_KEPT = 128
"""How many of the visitor's sent commands are kept to match server errors against."""


class Outbox:
    """Sent commands by event_id, and the retry of a reply request the server refused.

    Contract for the engine:

    - ``send(command, out)`` stamps the command with a fresh event_id (from ``event_ids``,
      shared by every visitor's outbox so ids are never reused), remembers it and appends
      ``Send`` to ``out``; an error naming an event: ``answers(event_id)`` is our command,
      or None (not ours, or none);
    - the server failed our reply request (a transient ``server_error``):
      ``refused_reply()`` is True the first time (ask again after a back-off, then
      ``retry_due()`` when the timer fires, True once) and False the second time (give
      up); a response created since, ``reply_came()``, makes the next refusal a first;
    - a new session for the visitor: ``forget()`` (nothing sent to the old one is
      answered on the new one, and no retry is due).

    Example::

        outbox = Outbox(itertools.count(1))
        outbox.send(RequestReply(), out)  # out: [Send(RequestReply(event_id="dev_1"))]
        if isinstance(outbox.answers(error.client_event_id), RequestReply):
            retry = outbox.refused_reply()  # True: SetTimer(RETRY_TIMER, ...), then
            # on its TimerFired: if outbox.retry_due(): outbox.send(RequestReply(), out)
    """

    def __init__(self, event_ids: Iterator[int] | None = None) -> None:
        self._ids = itertools.count(1) if event_ids is None else event_ids
        self._sent: dict[str, LinkCommand] = {}
        self._retried = False  # the reply request was asked again after a refusal
        self._retry_due = False  # ... and the back-off is running

    @property
    def sent(self) -> Mapping[str, LinkCommand]:
        return MappingProxyType(self._sent)

    def send(self, command: LinkCommand, out: list[Output]) -> None:
        """Stamp ``command`` with a fresh event_id, remember it, and send it."""
        stamped = dataclasses.replace(command, event_id=f"dev_{next(self._ids)}")
        self._sent[stamped.event_id] = stamped
        if len(self._sent) > SENT_KEPT:
            self._sent.pop(next(iter(self._sent)))
        out.append(Send(stamped))

    def answers(self, event_id: str | None) -> LinkCommand | None:
        return self._sent.get(event_id) if event_id else None

    def refused_reply(self) -> bool:
        """True: ask again after the back-off. False: refused again, give up."""
        if self._retried:
            self._retry_due = False
            return False
        self._retried = self._retry_due = True
        return True

    def retry_due(self) -> bool:
        """The back-off ran out: True (once) when the refused request is to be asked again."""
        due, self._retry_due = self._retry_due, False
        return due

    def reply_came(self) -> None:
        self._retried = self._retry_due = False

    def forget(self) -> None:
        self._sent.clear()
        self._retried = self._retry_due = False
