"""A visit's life around the engine's transitions: its opening, its session lost and
restored, the device's own availability (audio devices, the link while idle, the service
busy), and its closing.

Pure functions of the device's machines (`Availability`, `CostGuard`), a visitor and the
policy: they keep the books and append the commands and reports; none of them changes the
conversation's state. The engine (engine.py) calls them and decides the transitions
between, in this order:

- a visitor comes: ``refused(...)`` (True: the device cannot serve now, and has said so);
  else ``welcome(...)`` is the new `Visitor` (one visitor, one object), then the engine
  moves to connecting, then ``connect(...)`` asks for the session and its deadlines, and
  says the disclosure (and asks the consent question) meanwhile;
- the session is lost mid-conversation: ``leave_session(...)``, the engine moves to
  reconnecting, ``reconnect(...)``; a new one is ready: ``restore_words(...)``;
- the visit ends: ``close(...)`` drops what the session owed and reports the end, then the
  engine moves to the state the visit ends in. Those that say why it ends (``no_link``,
  ``link_lost``, ``reconnect_failed``) return the reason and `Outcome` to end it with.

Example::

    if not refused(can, guard, policy, now_ms, "button", out):
        visitor = welcome(1, "button", can, event_ids, policy, out)
        ...  # the engine: IDLE -> CONNECTING
        connect(visitor, policy, out)  # Connect, SetTimer(MAX_TIMER), SetTimer(SETUP_TIMER),
        # PlayPrompt("disclosure") (policy.disclosure)
"""

from __future__ import annotations

from collections.abc import Iterator

from device.conversation.budget import CostGuard, refuse
from device.conversation.commands import (
    CancelTimer,
    Connect,
    Disconnect,
    PlayPrompt,
    ProbeLink,
    Reconnect,
    SetTimer,
    Upload,
)
from device.conversation.disclosure import greet
from device.conversation.link_keeper import Availability, LinkKeeper, link_outcome
from device.conversation.outbox import Outbox
from device.conversation.outputs import Output
from device.conversation.policy import MAX_TIMER, RESTORE_TIMER, SETUP_TIMER, ConversationPolicy
from device.conversation.reports import (
    AudioDeviceChanged,
    ConversationEnded,
    ConversationStarted,
    ErrorReported,
    Note,
    Outcome,
)
from device.conversation.steps import drop_session_work
from device.conversation.visitor import Visitor
from device.realtime.commands import AddTextItem, UpdateSession


def nobody(event_ids: Iterator[int]) -> Visitor:
    """The visitor before the first one (nobody: no conversation yet)."""
    return Visitor(outbox=Outbox(event_ids))


def refused(
    can: Availability,
    guard: CostGuard,
    policy: ConversationPolicy,
    now_ms: float,
    source: str,
    out: list[Output],
) -> bool:
    """A visitor comes (from ``source``): True, and why said or noted, when the device
    cannot serve now (an audio device missing, a back-off the service asked for, the day's
    budget spent); else the visit's cost books are opened."""
    if (problem := can.device_problem) is not None:
        out.append(Note(f"not starting: {problem}"))
        return True
    if can.backing_off(now_ms):
        out.append(Note(f"not starting ({source}): the service asked us to wait"))
        out.append(PlayPrompt("busy"))
        return True
    return refuse(guard, policy, now_ms, source, out)


def welcome(
    number: int,
    source: str,
    can: Availability,
    event_ids: Iterator[int],
    policy: ConversationPolicy,
    out: list[Output],
) -> Visitor:
    """The device's ``number``th visitor, and the start reported. A link that was down as
    they came (``can.link_down_why``) is tried at once: it may just have come back. New
    sessions mid-conversation: up to ``policy.max_reconnects``, if ``policy.reconnect``."""
    conversation_id, was_down = f"conv-{number}", can.link_down_why
    budget = policy.max_reconnects if policy.reconnect else 0
    link = LinkKeeper(was_down, budget=budget)
    visitor = Visitor(conversation_id, link=link, outbox=Outbox(event_ids))
    if was_down is not None:
        out.append(Note(f"the link was down ({was_down[0]}): trying it for {source}"))
        out.append(ProbeLink())
    out.append(ConversationStarted(conversation_id, source))
    return visitor


def configure(v: Visitor, policy: ConversationPolicy, out: list[Output]) -> None:
    """The server made the visitor's session: it is given the visit's settings."""
    v.outbox.send(UpdateSession(policy.session), out)


def connect(v: Visitor, policy: ConversationPolicy, out: list[Output]) -> None:
    """The visitor's session is asked for, under the visit's deadlines (a link that was
    down has ``policy.offline_try_ms`` to come back); then, while it is made ready, the
    disclosure and the consent question are said (disclosure.py): nothing waits for them."""
    setup_ms = policy.setup_timeout_ms
    if v.link.was_down is not None:
        setup_ms = min(setup_ms, policy.offline_try_ms)
    out += [Connect(v.conversation_id), SetTimer(MAX_TIMER, policy.max_duration_ms)]
    out.append(SetTimer(SETUP_TIMER, setup_ms))
    greet(v.consent, policy.disclosure, policy.consent, out)


# -- the session lost mid-conversation, and restored ---------------------------------------


def leave_session(v: Visitor, why: str, *, disconnect: bool, out: list[Output]) -> None:
    """The visitor's session is gone: a new one is asked for (the conversation goes on).

    What the old session owed (a reply, tool results it asked for) cannot reach the new
    one: it is dropped, and the model is asked again once the words are restored.
    """
    v.link.reconnecting()
    out.append(Note(f"{why}: opening a new session (the conversation goes on)"))
    drop_session_work(v, out)
    v.caller.forget_words()
    v.outbox.forget()
    if disconnect:
        out.append(Disconnect())


def reconnect(policy: ConversationPolicy, out: list[Output]) -> None:
    """A new session is asked for; ``connection_lost`` is said only if restoring takes
    longer than ``policy.restore_prompt_ms`` (``RESTORE_TIMER``)."""
    out += [Reconnect(), SetTimer(RESTORE_TIMER, policy.restore_prompt_ms)]


def no_link(reason: str, kind: str, out: list[Output]) -> tuple[str, Outcome]:
    """No session could be had for the visitor: said (never silence: ``busy`` when the
    service is, else ``offline``); the reason and outcome to end the visit with."""
    out.append(PlayPrompt("busy" if kind == "busy" else "offline"))
    return f"no link: {reason}", link_outcome(kind)


def link_lost(reason: str, kind: str, out: list[Output]) -> tuple[str, Outcome]:
    """The visitor's link dropped (or could not be opened): reported; the reason and
    outcome to end the visit with, if it ends."""
    out.append(ErrorReported("link_lost", reason))
    return f"link lost: {reason}", link_outcome(kind)


def reconnect_failed(v: Visitor, reason: str, kind: str, out: list[Output]) -> tuple[str, Outcome]:
    """No new session could be had mid-conversation: reported, and ``connection_lost``
    said (unless it was said already while reconnecting); the reason and outcome to end
    the visit with."""
    out.append(ErrorReported("reconnect_failed", reason))
    if not v.link.said_lost:
        out.append(PlayPrompt("connection_lost"))
    return f"link lost: {reason}", link_outcome(kind)


def link_given_up(v: Visitor, out: list[Output]) -> None:
    """The session is lost and no new one is tried: the caller hears so."""
    if reconnects := v.link.reconnects:
        out.append(Note(f"gave up after {reconnects} new session(s)"))
    out.append(PlayPrompt("connection_lost"))


def service_busy(
    can: Availability, v: Visitor, why: str, until_ms: float, *, active: bool, out: list[Output]
) -> None:
    """The service is overloaded: back off until ``until_ms``, report it, and (a visit
    under way) say so (never silence) and decide the visit's end (`Outcome.BUSY`)."""
    can.back_off(until_ms)
    out.append(ErrorReported("busy", why))
    if active:
        out.append(PlayPrompt("busy"))
        v.farewell.decide("the service is busy", Outcome.BUSY)


def restore_words(v: Visitor, out: list[Output]) -> None:
    """A new session replaces the lost one: the words so far go to it, uploads resume."""
    out.append(CancelTimer(RESTORE_TIMER))
    transcript = v.replies.transcript
    for role, text in transcript:
        if text:  # a reply cut before its first word left nothing
            v.outbox.send(AddTextItem("user" if role == "user" else "assistant", text), out)
    out += [Note(f"session restored with {len(transcript)} item(s) of text"), Upload(True)]


# -- the device's own: its audio devices, the link while idle ------------------------------


def audio_device(
    can: Availability, ok: bool, message: str, *, active: bool, out: list[Output]
) -> bool:
    """An audio device's health: reported and kept in ``can``; one missing during a visit
    is said (the ``error`` prompt). True: it is back (it was missing)."""
    out.append(AudioDeviceChanged(ok, message))
    if ok:
        return can.device_back()
    can.device_lost(message)
    if active:
        out.append(PlayPrompt("error"))
    return False


def link_down(
    can: Availability, reason: str, kind: str, *, active: bool, out: list[Output]
) -> None:
    """The standby keeper found no link: kept in ``can``; reported the first time while
    idle (a visitor waiting hears of it through ``LinkLost``)."""
    if can.link_down(reason, kind) and not active:
        out.append(ErrorReported("link_down", reason))


def back_online(policy: ConversationPolicy, out: list[Output]) -> None:
    """The device can serve again (it was offline): said, if the policy asks for it."""
    if policy.back_online_prompt:
        out.append(PlayPrompt("back_online"))


# -- the end ------------------------------------------------------------------------------


def close(
    v: Visitor,
    reason: str,
    outcome: Outcome,
    now_ms: float,
    *,
    disconnect: bool,
    out: list[Output],
) -> None:
    """The visit ends: what its session owed is dropped, its deadlines cancelled, the
    session closed (``disconnect``), and the end reported (with the hang-up's time)."""
    drop_session_work(v, out)
    out += [CancelTimer(MAX_TIMER), CancelTimer(SETUP_TIMER), CancelTimer(RESTORE_TIMER)]
    if disconnect:
        out.append(Disconnect())
    out.append(ConversationEnded(reason, v.farewell.hangup_ms(now_ms), outcome))
