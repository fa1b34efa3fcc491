"""The engine's steps that change no state: bookkeeping over one visitor's machines, and the
commands and reports it calls for, appended to the engine's output list in order.

Pure functions of the visitor (device/conversation/visitor.py), the policy and the time.
None of them changes the conversation's state or ends it: the engine (engine.py) calls
them and then decides every transition, so its transitions read in one place. A step that
must tell the engine something returns it (a bool, a record), never a state.
"""

from __future__ import annotations

import dataclasses
import enum

from device.conversation.budget import limit_handed_over
from device.conversation.commands import (
    CancelTimer,
    Disconnect,
    HoldUpload,
    PlayPrompt,
    RunTool,
    SetTimer,
    Upload,
)
from device.conversation.outputs import Output
from device.conversation.policy import (
    IDLE_TIMER,
    LIMIT_CALL,
    RESTORE_TIMER,
    RETRY_TIMER,
    SLOW_PREFIX,
    STALL_TIMER,
    TRANSCRIPT_TIMER,
    ConversationPolicy,
)
from device.conversation.replies import heard_note
from device.conversation.reports import (
    CallerSaid,
    ErrorReported,
    FirstAudio,
    HandedOver,
    Interrupted,
    Note,
    Outcome,
    TranscriptionUsed,
    TurnEnded,
    UsageReported,
)
from device.conversation.tool_desk import Finished, tool_report
from device.conversation.visitor import Visitor
from device.realtime.commands import (
    AddTextItem,
    CancelReply,
    ClearInput,
    CommitInput,
    RequestReply,
    SendToolOutput,
    Truncate,
    UpdateSession,
)
from device.realtime.events import (
    ErrorKind,
    FunctionCallDone,
    InputTranscript,
    InputTranscriptFailed,
    ResponseDone,
    ServerError,
    Severity,
)
from device.realtime.settings import NoTurnDetection
from device.tools.base import ToolAction, ToolCall, ToolContext, ToolResult


def tool_context(v: Visitor, policy: ConversationPolicy) -> ToolContext:
    """What a tool may know of the conversation: the words so far, where it runs."""
    return ToolContext(
        conversation_id=v.conversation_id,
        transcript=v.replies.transcript,
        device_name=policy.device_name,
        site=policy.site,
    )


def ask_reply(v: Visitor, out: list[Output]) -> None:
    """Ask the model for a reply, through the one-active-response gate (or queue it)."""
    if v.gate.request():
        v.outbox.send(RequestReply(), out)


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


def drop_session_work(v: Visitor, out: list[Output]) -> None:
    """What the session owed is gone: stop uploads, its timers, tools and reply."""
    out.append(Upload(False))
    v.caller.close()
    out += [CancelTimer(IDLE_TIMER), CancelTimer(STALL_TIMER)]
    dropped, had_held = v.tools.drop_all()
    out += [CancelTimer(SLOW_PREFIX + call_id) for call_id in dropped]
    if had_held:
        out.append(CancelTimer(TRANSCRIPT_TIMER))
    v.gate.reset()


# -- server errors ------------------------------------------------------------------------


class Verdict(enum.Enum):
    """What a server error means for the conversation (see `Conversation._error`)."""

    GOES_ON = "goes on"  # reported; nothing else changes (a retry may be under way)
    BUSY = "busy"  # the service is busy: say so and end the visit
    BUSY_AGAIN = "busy again"  # our reply request failed a second time: busy
    SESSION_OVER = "session over"  # the session is gone; a new one may work
    REFUSED = "refused"  # an operator must fix something (key, settings)


def judge_error(
    v: Visitor, policy: ConversationPolicy, ev: ServerError, *, active: bool, out: list[Output]
) -> Verdict:
    """Report a server error, keep the books it calls for (a refused reply request queued
    again, or asked again after a back-off), and say what it means (`Verdict`)."""
    out.append(ErrorReported(ev.code, ev.message))
    ours = v.outbox.answers(ev.client_event_id)
    if ev.kind is ErrorKind.REPLY_BUSY:
        if isinstance(ours, RequestReply) and active:
            v.gate.on_rejected_active()
        return Verdict.GOES_ON
    if ev.kind is ErrorKind.RATE_LIMITED and active:
        return Verdict.BUSY
    if ev.kind is ErrorKind.SERVER:
        if not (active and isinstance(ours, RequestReply) and v.gate.in_flight):
            return Verdict.GOES_ON
        if not v.outbox.refused_reply():
            return Verdict.BUSY_AGAIN
        retry_ms = policy.server_error_retry_ms
        out.append(Note(f"the server failed our reply request: again in {retry_ms:g} ms"))
        out.append(SetTimer(RETRY_TIMER, retry_ms))
        return Verdict.GOES_ON
    if ev.severity is Severity.HARMLESS or not active:
        return Verdict.GOES_ON
    return Verdict.SESSION_OVER if ev.severity is Severity.SESSION else Verdict.REFUSED


# -- the caller's words ---------------------------------------------------------------------


def caller_words(
    v: Visitor,
    policy: ConversationPolicy,
    ev: InputTranscript | InputTranscriptFailed,
    out: list[Output],
) -> None:
    """The caller's words came (or cannot come) for a turn of theirs: kept, and the confirm
    tools held for them run once no turn waits for words (their transcription's usage is
    reported whoever's they are: it is billed)."""
    if isinstance(ev, InputTranscript) and ev.usage is not None:
        out.append(TranscriptionUsed(ev.usage))
    if not v.caller.owns(ev.item_id):
        return
    if isinstance(ev, InputTranscript):
        v.replies.caller_said(ev.text)
        out.append(CallerSaid(ev.text))
    else:
        out.append(Note(f"the caller's words were not transcribed: {ev.message}"))
    if v.caller.words_came(ev.item_id):
        release_held(v, policy, out)


# -- replies ------------------------------------------------------------------------------


def take_audio(
    v: Visitor, rid: str, item_id: str, pcm: bytes, now_ms: float, rate_hz: int, out: list[Output]
) -> bool:
    """Count a piece of reply audio (and the turn's first-audio latency). False: its reply
    was dropped (interrupted or abandoned): it is not played."""
    if not v.replies.plays(rid):
        return False
    v.replies.audio(rid, item_id, len(pcm) * 500.0 / rate_hz)
    if (latency_ms := v.caller.first_audio(now_ms)) is not None:
        out.append(FirstAudio(latency_ms))
    return True


def reply_done(v: Visitor, ev: ResponseDone, out: list[Output]) -> bool:
    """A response ended: its stall deadline and usage. True: the queued reply request
    must be sent now (the gate counts it in flight)."""
    if v.gate.active == ev.response_id:
        out.append(CancelTimer(STALL_TIMER))
    send_queued = v.gate.on_done(ev.response_id)
    out.append(UsageReported(ev.response_id, ev.status, ev.reason, ev.usage))
    return send_queued


def abandon_reply(v: Visitor, stall_ms: float, out: list[Output]) -> None:
    """A reply that went silent: dropped, cancelled, and a short prompt said."""
    rid = v.gate.active
    out.append(
        ErrorReported(
            "reply_stalled", f"the server sent nothing for {stall_ms / 1000.0:g} s in a reply"
        )
    )
    if rid is not None:
        v.replies.drop(rid)
        v.gate.on_done(rid)
    v.outbox.send(CancelReply(), out)
    out.append(PlayPrompt("error"))


def truncate_heard(
    v: Visitor,
    source: str,
    heard_ms: tuple[tuple[str, float], ...],
    *,
    cancel: bool,
    now_ms: float,
    out: list[Output],
) -> None:
    """Barge-in, step 2 (the speaker is silent): truncate the reply at what was heard (the
    playback clock's ``heard_ms`` per item), cut its words kept to about that, cancel the
    reply if it still runs and ``cancel`` (the server does not cancel it itself)."""
    cut = v.replies.cut_at(heard_ms)
    if cut is not None:
        v.outbox.send(Truncate(cut.item_id, cut.audio_end_ms), out)
        if (heard := v.replies.cut(cut.item_id, cut.fraction)) is not None:
            out.append(Note(heard_note(heard)))
    if v.gate.active is not None and cancel:
        v.outbox.send(CancelReply(), out)
    n, stop_ms = v.replies.interrupted(now_ms)
    item_id, end_ms = (cut.item_id, cut.audio_end_ms) if cut else (None, None)
    out.append(Interrupted(source, n, item_id, end_ms, stop_ms))


def restore_words(v: Visitor, out: list[Output]) -> None:
    """A new session replaces the lost one: the words so far go to it, uploads resume."""
    out.append(CancelTimer(RESTORE_TIMER))
    transcript = v.replies.transcript
    for role, text in transcript:
        if text:  # a reply cut before its first word left nothing
            v.outbox.send(AddTextItem("user" if role == "user" else "assistant", text), out)
    out += [Note(f"session restored with {len(transcript)} item(s) of text"), Upload(True)]


# -- tools --------------------------------------------------------------------------------


def take_call(
    v: Visitor, policy: ConversationPolicy, ev: FunctionCallDone, now_ms: float, out: list[Output]
) -> None:
    """The model called a tool: it runs now, or (a confirm tool whose check reads the
    caller's yes from the transcript, while those words are still to come) once they land;
    a filler is said if it is slow."""
    call = ToolCall(call_id=ev.call_id, name=ev.name, arguments=ev.arguments)
    v.tools.called(call, ev.response_id, now_ms)
    out.append(CancelTimer(IDLE_TIMER))
    if call.name in policy.confirm_tools and v.caller.waiting_for_words:
        v.tools.hold(call)
        out.append(SetTimer(TRANSCRIPT_TIMER, policy.transcript_wait_ms))
    else:
        out.append(RunTool(call, tool_context(v, policy)))
    out.append(SetTimer(SLOW_PREFIX + ev.call_id, policy.slow_tool_ms))


def release_held(v: Visitor, policy: ConversationPolicy, out: list[Output]) -> None:
    """The caller's words came (or will not): the confirm tools held for them run now."""
    if v.tools.holding:
        out.append(CancelTimer(TRANSCRIPT_TIMER))
        out += [RunTool(call, tool_context(v, policy)) for call in v.tools.release()]


def answer_tool(v: Visitor, done: Finished, result: ToolResult, out: list[Output]) -> None:
    """A tool finished: report it, send its output, say its prompt (no canned goodbye on
    top of the model's own), and note a hand-over or a hang-up it decided."""
    call = done.call
    if call.call_id == LIMIT_CALL:  # the device's own, at a cost limit: not the model's
        limit_handed_over(v, call, result, out)
        return
    out += [CancelTimer(SLOW_PREFIX + call.call_id), tool_report(call, result)]
    v.outbox.send(SendToolOutput(call.call_id, result.output), out)
    said_goodbye = v.replies.spoke(done.response_id)
    if result.prompt and not (result.action is ToolAction.END and said_goodbye):
        out.append(PlayPrompt(result.prompt))
    if result.action in (ToolAction.HANDOVER_HOLD, ToolAction.HANDOVER_END):
        v.farewell.hand_over()
        out.append(HandedOver(call.name))
    if result.action is ToolAction.END:
        v.farewell.decide("the caller said goodbye", Outcome.GOODBYE, done.asked_at_ms)
    elif result.action is ToolAction.HANDOVER_END:
        v.farewell.decide("handed over to a human", Outcome.HANDED_OVER, done.asked_at_ms)


# -- push-to-talk -------------------------------------------------------------------------
# While the button is held the server must not end the turn on a pause: with server turn
# detection configured, the session's turn detection is switched off (`UpdateSession` with
# `NoTurnDetection`) for the held turn, and everything heard is uploaded (the noise gate
# held open). On release the device commits the turn (`CommitInput`) and asks for the reply
# (`RequestReply`, gated), then switches the server's turn detection back on; a turn too
# short to hold speech is dropped (`ClearInput`) and nothing is said.


def hold_turn(v: Visitor, policy: ConversationPolicy, out: list[Output]) -> bool:
    """The button is held and the session ready: False when a turn is held already."""
    if not v.talk.begin():
        return False
    if policy.server_turn_detection:
        spec = dataclasses.replace(policy.session, turn_detection=NoTurnDetection())
        v.outbox.send(UpdateSession(spec), out)
    v.caller.start()
    out += [HoldUpload(True), CancelTimer(IDLE_TIMER)]
    return True


def release_turn(v: Visitor, commit: bool, now_ms: float, out: list[Output]) -> None:
    """The button is released: the held turn is committed (``commit``) or dropped."""
    v.talk.release()
    v.caller.close()
    out.append(HoldUpload(False))
    if commit:
        v.outbox.send(CommitInput(), out)
        out.append(TurnEnded(v.caller.end_turn(now_ms)))
    else:
        v.outbox.send(ClearInput(), out)


def turn_detection_back(v: Visitor, policy: ConversationPolicy, out: list[Output]) -> None:
    """After a held turn: the server's own turn detection, as configured, again."""
    if policy.server_turn_detection:
        v.outbox.send(UpdateSession(policy.session), out)
