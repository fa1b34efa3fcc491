"""What a server error means for the conversation: a pure verdict the engine turns into a
transition.

`judge_error` keeps the books the error calls for (on the visitor's machines it is given),
appends its report and commands, and returns a `Judged`: what the error means and the
reason to give. It never reads or changes the conversation's state: the engine
(engine.py) decides the transition (``Conversation._error``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from device.conversation.commands import SetTimer
from device.conversation.outputs import Output
from device.conversation.policy import RETRY_TIMER, ConversationPolicy
from device.conversation.reports import ErrorReported, Note
from device.conversation.visitor import Visitor
from device.realtime.commands import RequestReply
from device.realtime.events import ErrorKind, ServerError, Severity


class Verdict(enum.Enum):
    """What a server error means for the conversation."""

    GOES_ON = "goes on"  # reported; nothing else changes (a retry may be under way)
    BUSY = "busy"  # the service is busy: say so and end the visit
    SESSION_OVER = "session over"  # the session is gone; a new one may work
    REFUSED = "refused"  # an operator must fix something (key, settings)


@dataclass(frozen=True, slots=True)
class Judged:
    """A `Verdict`, and ``why``: the reason the engine gives (for the end, or the busy)."""

    verdict: Verdict
    why: str = ""


GOES_ON = Judged(Verdict.GOES_ON)


def judge_error(
    v: Visitor, policy: ConversationPolicy, ev: ServerError, *, active: bool, out: list[Output]
) -> Judged:
    """Report a server error, keep the books it calls for, and say what it means.

    Errors answer events: a refusal of a request counts only if it names one of ours
    (``v.outbox.answers``).

    - An error naming no event the device sent (or one it no longer knows) is reported
      and changes nothing it sends, unless its kind is session-wide (below).
    - ``REPLY_BUSY`` naming our reply request, still wanted: it is queued again behind the
      running response (the gate); the conversation goes on.
    - ``SERVER`` (a transient ``server_error``) naming our reply request while it is
      still unanswered: asked again once after ``policy.server_error_retry_ms``
      (``RETRY_TIMER``); failed again before any response came, the service is busy
      (`Verdict.BUSY`). A ``server_error`` naming another command of ours (a tool output,
      a truncate, a session update) is reported only: the conversation goes on (a session
      update never acknowledged runs into the setup deadline).
    - ``RATE_LIMITED``, whatever it names: the service is busy.
    - Session-wide errors end the session whatever they name: expiry is
      `Verdict.SESSION_OVER` (a new session, or offline), a bad key or settings
      `Verdict.REFUSED` (the error state). Harmless ones go on.
    """
    out.append(ErrorReported(ev.code, ev.message))
    ours = v.outbox.answers(ev.client_event_id)
    if ev.kind is ErrorKind.REPLY_BUSY:
        if isinstance(ours, RequestReply) and active:
            v.gate.on_rejected_active()
        return GOES_ON
    if ev.kind is ErrorKind.RATE_LIMITED and active:
        return Judged(Verdict.BUSY, f"the server said {ev.code}")
    if ev.kind is ErrorKind.SERVER:
        if not (active and isinstance(ours, RequestReply) and v.gate.in_flight):
            return GOES_ON
        if not v.outbox.refused_reply():
            return Judged(Verdict.BUSY, f"the server said {ev.code} twice")
        retry_ms = policy.server_error_retry_ms
        out.append(Note(f"the server failed our reply request: again in {retry_ms:g} ms"))
        out.append(SetTimer(RETRY_TIMER, retry_ms))
        return GOES_ON
    if ev.severity is Severity.HARMLESS or not active:
        return GOES_ON
    if ev.severity is Severity.SESSION:
        return Judged(Verdict.SESSION_OVER, f"session ended by the server ({ev.code})")
    return Judged(Verdict.REFUSED, f"server refused the session ({ev.code})")
