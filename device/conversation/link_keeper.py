"""The link as one visitor sees it, and whether the device can serve at all.

Two small pure machines: `LinkKeeper`, per visitor (device/conversation/visitor.py): the
new sessions opened for them and what they were told; `Availability`, per device (it
outlives visitors): a missing audio device, a link down while idle, a back-off the service
asked for. They keep the books; the engine decides the state and what is said.
"""

from __future__ import annotations

from device.conversation.reports import Outcome


def link_outcome(kind: str) -> Outcome:
    """How a conversation ends for want of a link, by the retry helper's ``kind``."""
    if kind == "auth":
        return Outcome.FAILED
    if kind == "busy":
        return Outcome.BUSY
    return Outcome.OFFLINE


class LinkKeeper:
    """One visitor's link: the new sessions opened mid-conversation, and whether the
    ``connection_lost`` prompt was said during the current one.

    Contract for the engine:

    - a visitor who comes while the link is down: ``LinkKeeper(was_down=(reason, kind))``;
      ``budget``: how many new sessions the visit may open (0: none, reconnects are off);
    - a session lost mid-conversation: ask ``may_reconnect(retryable)``; if it may, call
      ``reconnecting()`` as the new session is asked for;
    - ``connection_lost`` said while reconnecting: ``lost_said()``; ``said_lost`` tells.

    Example::

        link = LinkKeeper(budget=3)
        if link.may_reconnect(True):
            link.reconnecting()  # link.reconnects == 1
    """

    def __init__(self, was_down: tuple[str, str] | None = None, *, budget: int = 0) -> None:
        self._was_down = was_down
        self._budget = budget
        self._reconnects = 0
        self._said_lost = False

    @property
    def was_down(self) -> tuple[str, str] | None:
        """(reason, kind) when the visitor came while the link was down, else None."""
        return self._was_down

    @property
    def reconnects(self) -> int:
        return self._reconnects

    @property
    def said_lost(self) -> bool:
        return self._said_lost

    def may_reconnect(self, retryable: bool) -> bool:
        """A lost session may be replaced: ``retryable``, and the budget not spent."""
        return retryable and self._reconnects < self._budget

    def reconnecting(self) -> None:
        self._reconnects += 1
        self._said_lost = False

    def lost_said(self) -> None:
        self._said_lost = True


class Availability:
    """Whether the device can serve a visitor now (it outlives visitors).

    Contract for the engine:

    - an audio device missing: ``device_lost(message)``; back: ``device_back()`` (True
      when it was missing); ``device_problem`` says what is missing (None: nothing);
    - the standby keeper's word while idle: ``link_up()`` / ``link_down(reason, kind)``
      (True the first time); ``link_down_why`` is (reason, kind) or None;
    - the service asked the device to back off: ``back_off(until_ms)``; ``backing_off(
      now_ms)`` says whether a start must be refused with ``busy``.

    Example::

        can = Availability()
        can.back_off(until_ms=20_000.0)
        can.backing_off(now_ms=5_000.0)  # True
    """

    def __init__(self) -> None:
        self._device_problem: str | None = None
        self._link_down: tuple[str, str] | None = None
        self._busy_until_ms = 0.0

    @property
    def device_problem(self) -> str | None:
        return self._device_problem

    @property
    def device_ok(self) -> bool:
        """No audio device is missing."""
        return self._device_problem is None

    @property
    def link_down_why(self) -> tuple[str, str] | None:
        return self._link_down

    def device_lost(self, message: str) -> None:
        self._device_problem = message

    def device_back(self) -> bool:
        was_lost = self._device_problem is not None
        self._device_problem = None
        return was_lost

    def link_up(self) -> None:
        self._link_down = None

    def link_down(self, reason: str, kind: str) -> bool:
        first = self._link_down is None
        self._link_down = (reason, kind)
        return first

    def back_off(self, until_ms: float) -> None:
        self._busy_until_ms = max(self._busy_until_ms, until_ms)

    def backing_off(self, now_ms: float) -> bool:
        return self._busy_until_ms > now_ms
