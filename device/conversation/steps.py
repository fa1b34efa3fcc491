"""The engine's steps that change no state: bookkeeping over one visitor's machines, and the
commands and reports it calls for, appended to the engine's output list in order.

Pure functions of the visitor (device/conversation/visitor.py), the policy and the time.
None of them changes the conversation's state or ends it: the engine (engine.py) calls
them and then decides every transition, so its transitions read in one place. A step that
must tell the engine something returns it (a bool, a record), never a state.
"""

from __future__ import annotations

import functools

from device.conversation.budget import CostGuard, bill, limit_handed_over
from device.conversation.commands import (
    CancelTimer,
    HoldUpload,
    PlayPrompt,
    RunTool,
    SetTimer,
    StopPlayback,
    Upload,
)
from device.conversation.disclosure import heard
from device.conversation.inputs import Event, PlaybackStopped, ToolFinished
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
    AssistantSaid,
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
from device.conversation.state import State
from device.conversation.tool_desk import tool_report
from device.conversation.visitor import Visitor
from device.realtime.commands import CancelReply, RequestReply, SendToolOutput, Truncate
from device.realtime.events import (
    AudioDelta,
    FunctionCallDone,
    Ignored,
    InputTranscript,
    InputTranscriptFailed,
    ResponseDone,
    TranscriptDone,
)
from device.tools.base import ToolAction, ToolCall, ToolContext


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


# -- timers -------------------------------------------------------------------------------


def setup_failed(policy: ConversationPolicy, out: list[Output]) -> None:
    """The server did not set up the visitor's session in time: reported."""
    why = f"the server did not set up the session in {policy.setup_timeout_ms / 1000.0:g} s"
    out.append(ErrorReported("session_setup", why))


def timer_chores(
    v: Visitor, policy: ConversationPolicy, name: str, state: State, out: list[Output]
) -> None:
    """The timers whose firing changes no state (the engine handles the others): a slow
    tool's filler, ``connection_lost`` while a new session is slow to come (``state``
    reconnecting), the caller's words that never came (the held tools decide without
    them), and the reply request asked again after the server failed it."""
    if name.startswith(SLOW_PREFIX) and v.tools.is_pending(name[len(SLOW_PREFIX) :]):
        out.append(PlayPrompt("filler"))
    elif name == RESTORE_TIMER and state is State.RECONNECTING:
        v.link.lost_said()
        out.append(PlayPrompt("connection_lost"))
    elif name == TRANSCRIPT_TIMER:
        v.caller.forget_words()
        release_held(v, policy, out)
    elif name == RETRY_TIMER and v.outbox.retry_due() and v.gate.in_flight:
        out.append(Note("asking again for the reply the server failed"))
        v.outbox.send(RequestReply(), out)


# -- the caller's turns and words ----------------------------------------------------------


def caller_starts(v: Visitor, item_id: str | None, out: list[Output]) -> None:
    """The caller starts speaking (the server heard it, or the button is held): the echo
    hold lifts for them (everything heard is uploaded), and the idle deadline stops."""
    v.caller.start(item_id)
    out += [HoldUpload(True), CancelTimer(IDLE_TIMER)]


def caller_stops(
    v: Visitor,
    policy: ConversationPolicy,
    item_id: str,
    now_ms: float,
    *,
    active: bool,
    out: list[Output],
) -> None:
    """The server heard the caller stop: the echo hold is back, and (a visit under way)
    the turn ended is numbered and reported, its words awaited if the session
    transcribes."""
    if v.caller.close():
        out.append(HoldUpload(False))
    if active:
        n = v.caller.end_turn(now_ms, item_id=item_id, transcribes=policy.transcribes)
        out.append(TurnEnded(n))


def caller_words(
    v: Visitor,
    policy: ConversationPolicy,
    ev: InputTranscript | InputTranscriptFailed,
    *,
    active: bool,
    out: list[Output],
) -> None:
    """The caller's words came (or cannot come) for a turn of theirs, a visit under way
    (``active``): kept, the first after the consent question answering it (disclosure.py;
    the turn is answered by the model all the same), and the confirm tools held for them
    run once no turn waits for words (their transcription's usage is reported whoever's
    they are: it is billed)."""
    if not active:
        return
    if isinstance(ev, InputTranscript) and ev.usage is not None:
        out.append(TranscriptionUsed(ev.usage))
    if not v.caller.owns(ev.item_id):
        return
    if isinstance(ev, InputTranscript):
        v.replies.caller_said(ev.text)
        out.append(CallerSaid(ev.text))
    else:
        out.append(Note(f"the caller's words were not transcribed: {ev.message}"))
    text = ev.text if isinstance(ev, InputTranscript) else None
    heard(v.consent, policy.consent, text, out)  # the first answer the consent question
    if v.caller.words_came(ev.item_id):
        release_held(v, policy, out)


# -- replies ------------------------------------------------------------------------------

REPLY_PROGRESS = (AudioDelta, TranscriptDone, FunctionCallDone, Ignored)
"""Server events that show a running reply is still alive."""


def reply_alive(
    v: Visitor, policy: ConversationPolicy, ev: Event, *, active: bool, out: list[Output]
) -> None:
    """An event of a running reply, a visit under way, shows the reply lives: its stall
    deadline starts again."""
    if active and v.gate.active is not None and isinstance(ev, REPLY_PROGRESS):
        out.append(SetTimer(STALL_TIMER, policy.reply_stall_ms))


def reply_created(
    v: Visitor, policy: ConversationPolicy, response_id: str, *, active: bool, out: list[Output]
) -> None:
    """The server started a response: the gate counts it, a refused request's retry is
    over, and (a visit under way) its stall deadline runs."""
    v.gate.on_created(response_id)
    v.outbox.reply_came()
    if active:
        out.append(SetTimer(STALL_TIMER, policy.reply_stall_ms))


def reply_words(v: Visitor, item_id: str, text: str, *, active: bool, out: list[Output]) -> None:
    """The reply's words, a visit under way: reported, and kept (only what was heard of a
    cut one)."""
    if not (text and active):
        return
    out.append(AssistantSaid(text))
    v.replies.reply_said(item_id, text)


def take_audio(
    v: Visitor, policy: ConversationPolicy, ev: AudioDelta, now_ms: float, out: list[Output]
) -> bool:
    """Count a piece of reply audio (and the turn's first-audio latency). False: its reply
    was dropped (interrupted or abandoned): it is not played."""
    if not v.replies.plays(ev.response_id):
        return False
    v.replies.audio(ev.response_id, ev.item_id, len(ev.pcm) * 500.0 / policy.audio_rate_hz)
    if (latency_ms := v.caller.first_audio(now_ms)) is not None:
        out.append(FirstAudio(latency_ms))
    return True


def reply_done(
    v: Visitor,
    policy: ConversationPolicy,
    guard: CostGuard,
    ev: ResponseDone,
    now_ms: float,
    active: bool,
    out: list[Output],
) -> bool:
    """A response ended: its stall deadline, its usage and cost (every status is billed;
    the first limit it reaches stops the visit: `budget.bill`), and (a visit under way) a
    failure reported and the reply request queued behind it sent. True: that request was
    sent (the gate counts it in flight)."""
    if v.gate.active == ev.response_id:
        out.append(CancelTimer(STALL_TIMER))
    send_queued = v.gate.on_done(ev.response_id)
    out.append(UsageReported(ev.response_id, ev.status, ev.reason, ev.usage))
    context = functools.partial(tool_context, v, policy)
    bill(v, policy, guard, ev.response_id, ev.usage, context, active=active, now_ms=now_ms, out=out)
    if not active:
        return False
    if ev.status == "failed":
        out.append(ErrorReported("response_failed", ev.reason or ""))
    if send_queued:
        v.outbox.send(RequestReply(), out)
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


def stop_playback(
    v: Visitor, source: str, now_ms: float, *, device: bool, out: list[Output]
) -> None:
    """Barge-in, step 1: the last reply is dropped and the speaker silenced now (the
    daemon answers `PlaybackStopped`)."""
    out.append(StopPlayback(source, v.replies.interrupt(now_ms), device_initiated=device))


def truncate_heard(
    v: Visitor, policy: ConversationPolicy, ev: PlaybackStopped, now_ms: float, out: list[Output]
) -> None:
    """Barge-in, step 2 (the speaker is silent): truncate the reply at what was heard (the
    playback clock's ``heard_ms`` per item), cut its words kept to about that, cancel the
    reply if it still runs and the server does not cancel it itself (the device stopped
    it, or the server does not interrupt)."""
    source = ev.source
    cancel = ev.device_initiated or not policy.server_interrupts
    cut = v.replies.cut_at(ev.heard_ms)
    if cut is not None:
        v.outbox.send(Truncate(cut.item_id, cut.audio_end_ms), out)
        if (heard := v.replies.cut(cut.item_id, cut.fraction)) is not None:
            out.append(Note(heard_note(heard)))
    if v.gate.active is not None and cancel:
        v.outbox.send(CancelReply(), out)
    n, stop_ms = v.replies.interrupted(now_ms)
    item_id, end_ms = (cut.item_id, cut.audio_end_ms) if cut else (None, None)
    out.append(Interrupted(source, n, item_id, end_ms, stop_ms))


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


def answer_tool(
    v: Visitor, ev: ToolFinished, now_ms: float, *, active: bool, out: list[Output]
) -> bool:
    """A tool finished: taken off the desk; a call still pending of a visit under way
    (else False: a late result of a dropped session, or of an ended visit) is reported,
    its output sent, its prompt said (no canned goodbye on top of the model's own), and a
    hand-over or a hang-up it decided noted."""
    done = v.tools.finish(ev.call_id, now_ms)
    if done is None or not active:
        return False
    call, result = done.call, ev.result
    if call.call_id == LIMIT_CALL:  # the device's own, at a cost limit: not the model's
        limit_handed_over(v, call, result, out)
        return True
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
    return True
