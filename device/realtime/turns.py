"""The protocol-neutral turn layer: the one-active-response rule and truncation arithmetic.

Pure: no I/O, no clock. Any Realtime-style API where one reply runs at a time and an
interrupted audio item is cut to what was heard uses these.
"""

from __future__ import annotations

# ---- barge-in ---------------------------------------------------------------------------


def truncate_point(played_ms: float, received_ms: float) -> int | None:
    """Where to truncate an interrupted assistant audio item, in whole ms, or None.

    ``played_ms`` is what the speaker really played of the item (the playback clock, not
    wall time); ``received_ms`` is the audio received for it. The answer is played_ms
    floored, so never past the audio received (the server rejects longer values). None
    means send no truncate: nothing was heard yet (< 1 ms; the server refuses a truncate
    at 0) or playback had already reached the end of the audio received (nothing unheard
    to cut; a needless truncate makes the model repeat itself).
    """
    if played_ms < 1.0 or played_ms >= received_ms:
        return None
    return int(min(played_ms, received_ms))


# ---- the one-active-response rule -------------------------------------------------------


class ResponseGate:
    """The one-active-response rule of the Realtime API, without I/O.

    Only one response may run in a session; a reply request sent meanwhile is refused
    (ErrorKind.REPLY_BUSY). The gate decides when a request may go out and queues (at
    most) one otherwise. Contract for the caller:

    - before sending a reply request, call ``request()``; send it only if it returns
      True (False: the request is queued);
    - on every ResponseCreated, call ``on_created(response_id)``, including responses
      the server made itself (server VAD with create_response): they block requests too;
    - on every ResponseDone, call ``on_done(response_id)``; if it returns True, send
      the queued request now;
    - on a refusal (ErrorKind.REPLY_BUSY) of a request of ours that is still wanted, call
      ``on_rejected_active()``: the request is queued again and released by the running
      response's ResponseDone;
    - on a new session (reconnect), call ``reset()``.

    ``active`` is the id of the running response (None when none is known), ``pending``
    is True while a request waits. A request that was sent but not yet answered by
    ResponseCreated also holds back further requests (see ``busy``).

    Example::

        gate = ResponseGate()
        if gate.request():
            send(RequestReply())
    """

    def __init__(self) -> None:
        self._active: str | None = None
        self._in_flight = False
        self._pending = False

    @property
    def active(self) -> str | None:
        return self._active

    @property
    def pending(self) -> bool:
        return self._pending

    @property
    def busy(self) -> bool:
        """A response runs or a create was sent and not yet answered."""
        return self._active is not None or self._in_flight

    def request(self) -> bool:
        """True: send a reply request now. False: it is queued (one at most)."""
        if self.busy:
            self._pending = True
            return False
        self._in_flight = True
        return True

    def on_created(self, response_id: str) -> None:
        self._active = response_id
        self._in_flight = False

    def on_done(self, response_id: str) -> bool:
        """True: the queued request must be sent now (the gate counts it as in flight)."""
        if self._active == response_id:
            self._active = None
        if self._pending and not self.busy:
            self._pending = False
            self._in_flight = True
            return True
        return False

    @property
    def in_flight(self) -> bool:
        """A request was sent and not yet answered (by ResponseCreated or a refusal)."""
        return self._in_flight

    def on_rejected_active(self) -> None:
        self._in_flight = False
        self._pending = True

    def reset(self) -> None:
        self._active = None
        self._in_flight = False
        self._pending = False
