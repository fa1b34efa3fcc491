"""The conversation engine: a pure state machine.

``Conversation.handle(event, now_ms)`` takes one event (a typed server event from
device/realtime/events.py or a local event of device/conversation/inputs.py) and the
current time, and returns what the daemon must do, in order: commands
(device/conversation/commands.py) and reports (device/conversation/reports.py). It performs
no I/O, reads no clock and knows no wire format.

Contract for the caller (device/daemon/daemon.py):
- carry out the returned commands in order, before handling the next event; hand every
  report to the sinks;
- ``Send`` commands go out on the link in the order given, ahead of queued audio;
- ``SetTimer(name, delay_ms)`` must later produce ``TimerFired(name)`` unless cancelled or
  replaced by a timer of the same name, on the same clock as ``now_ms``;
- ``RunTool`` must later produce ``ToolFinished`` for the same call_id;
- ``AwaitPlayback`` must produce ``PlaybackIdle`` once everything played so far has played.

The engine decides every transition of ``state``; the visitor's small machines
(device/conversation/visitor.py) keep the books and never change it. Every
``ConversationEnded`` carries an `Outcome` saying how the visit ended.

Example::

    conv = Conversation(ConversationPolicy(session=SessionSpec(settings.realtime)))
    out = conv.handle(StartRequested("button"), now_ms=0.0)
    # -> [ConversationStarted(...), StateChanged(IDLE, CONNECTING), Connect(...), SetTimer(...)]
"""

from __future__ import annotations

import itertools

import device.conversation.budget as budget
import device.conversation.inputs as local
import device.conversation.steps as steps
import device.realtime.events as server
from device.conversation.commands import (
    AwaitPlayback,
    CancelTimer,
    Connect,
    Disconnect,
    HoldUpload,
    Play,
    PlayPrompt,
    ProbeLink,
    Reconnect,
    SetTimer,
    StopPlayback,
    Upload,
)
from device.conversation.link_keeper import Availability, LinkKeeper, link_outcome
from device.conversation.outbox import Outbox
from device.conversation.outputs import Output
from device.conversation.policy import (
    IDLE_TIMER,
    MAX_TIMER,
    RESTORE_TIMER,
    RETRY_TIMER,
    SETUP_TIMER,
    SLOW_PREFIX,
    STALL_TIMER,
    TRANSCRIPT_TIMER,
    ConversationPolicy,
)
from device.conversation.reports import (
    AssistantSaid,
    AudioDeviceChanged,
    ConversationEnded,
    ConversationStarted,
    ErrorReported,
    Note,
    Outcome,
    StateChanged,
    TurnEnded,
)
from device.conversation.state import ENDED, State
from device.conversation.visitor import Visitor
from device.realtime.commands import RequestReply, UpdateSession
from device.tools.base import ToolContext, ToolResult

__all__ = ["Conversation", "Output"]

_REPLY_PROGRESS = (
    server.AudioDelta,
    server.TranscriptDone,
    server.FunctionCallDone,
    server.Ignored,
)
"""Server events that show a running reply is still alive."""


class Conversation:
    """The device's conversations, one visitor at a time (see the module docstring)."""

    def __init__(self, policy: ConversationPolicy) -> None:
        self.policy = policy
        self.state = State.IDLE
        self._event_ids = itertools.count(1)  # shared by every visitor: ids never reused
        self.visitor = Visitor(outbox=Outbox(self._event_ids))
        self._can = Availability()  # the device's own: outlives visitors
        self._guard = budget.CostGuard.of(policy)  # the day's spend: the device's too
        self._conversation_ids = itertools.count(1)
        self._now_ms = 0.0

    # -- public ----------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """A conversation is under way (connecting, talking, running a tool)."""
        return self.state not in ENDED

    @property
    def busy(self) -> bool:
        """Something is still owed to the caller: a reply, a tool, or playback."""
        v = self.visitor
        return self.state in (State.CONNECTING, State.THINKING, State.SPEAKING, State.TOOL) or (
            v.tools.busy or v.gate.active is not None
        )

    @property
    def conversation_id(self) -> str:
        return self.visitor.conversation_id

    @property
    def transcript(self) -> list[tuple[str, str]]:
        return self.visitor.transcript

    @property
    def turns(self) -> int:
        return self.visitor.turns

    @property
    def caller_turn_open(self) -> bool:
        return self.visitor.caller_turn_open

    def context(self) -> ToolContext:
        return steps.tool_context(self.visitor, self.policy)

    def handle(self, event: local.Event, now_ms: float) -> list[Output]:
        out: list[Output] = []
        self._now_ms = now_ms
        v = self.visitor
        if v.gate.active is not None and self.active and isinstance(event, _REPLY_PROGRESS):
            out.append(SetTimer(STALL_TIMER, self.policy.reply_stall_ms))  # the reply lives
        match event:
            case local.StartRequested(source=source):
                self._start(source, out)
            case local.StopRequested(reason=reason, outcome=outcome):
                if self.active:
                    self._end(reason, outcome, out)
            case server.SessionCreated():
                if self.state is State.CONNECTING:
                    v.outbox.send(UpdateSession(self.policy.session), out)
            case server.SessionUpdated():
                if self.state is State.CONNECTING:
                    self._listen_first(out)
            case server.SpeechStarted(item_id=item_id):
                if self.active:
                    v.caller.start(item_id)
                    out += [HoldUpload(True), CancelTimer(IDLE_TIMER)]
                    if self.state is State.SPEAKING and not v.farewell.decided:
                        self._interrupt("the caller (server)", out, device=False)
                    elif self.state in (State.LISTENING, State.THINKING):
                        self._to(State.LISTENING, out)
            case local.InterruptRequested(source=source):
                if self.state is State.SPEAKING and not v.farewell.decided:
                    self._interrupt(source, out, device=True)
            case local.PlaybackStopped(source=source, heard_ms=heard_ms):
                if self.active:  # barge-in, step 2
                    cancel = event.device_initiated or not self.policy.server_interrupts
                    steps.truncate_heard(v, source, heard_ms, cancel=cancel, now_ms=now_ms, out=out)
                    if self.state is State.LISTENING:
                        out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))
            case server.SpeechStopped(item_id=item_id):
                if v.caller.close():
                    out.append(HoldUpload(False))
                if self.active:
                    words = self.policy.transcribes
                    out.append(
                        TurnEnded(v.caller.end_turn(now_ms, item_id=item_id, transcribes=words))
                    )
                    if self.state is State.LISTENING:
                        self._to(State.THINKING, out)
            case server.InputCommitted(item_id=item_id):
                v.caller.committed(item_id, expect_words=self.active and self.policy.transcribes)
            case server.InputTranscript() | server.InputTranscriptFailed():
                if self.active:
                    steps.caller_words(v, self.policy, event, out)
            case server.ResponseCreated(response_id=rid):
                v.gate.on_created(rid)
                v.outbox.reply_came()
                if self.active:
                    out.append(SetTimer(STALL_TIMER, self.policy.reply_stall_ms))
            case server.AudioDelta(response_id=rid, item_id=item_id, pcm=pcm):
                rate_hz = self.policy.audio_rate_hz
                if self.active and steps.take_audio(v, rid, item_id, pcm, now_ms, rate_hz, out):
                    if self.state in (State.THINKING, State.LISTENING, State.TOOL):
                        self._to(State.SPEAKING, out)
                    out += [CancelTimer(IDLE_TIMER), Play(item_id, pcm)]
            case server.TranscriptDone(item_id=item_id, text=text):
                if text and self.active:
                    out.append(AssistantSaid(text))
                    v.replies.reply_said(item_id, text)
            case server.FunctionCallDone():
                self._function_call(event, out)
            case local.ToolFinished(call_id=call_id, result=result):
                self._tool_finished(call_id, result, out)
            case server.ResponseDone():
                self._response_done(event, out)
            case local.PlaybackIdle():
                self._playback_idle(out)
            case local.TimerFired(name=name):
                self._timer(name, out)
            case server.ServerError():
                self._error(event, out)
            case local.LinkLost():
                self._link_lost(event, out)
            case local.SessionReady(restore=restore):
                self._session_ready(restore, out)
            case local.ReconnectFailed(reason=reason, kind=kind):
                if self.state is State.RECONNECTING:
                    out.append(ErrorReported("reconnect_failed", reason))
                    if not v.link.said_lost:
                        out.append(PlayPrompt("connection_lost"))
                    state = State.ERROR if kind == "auth" else State.OFFLINE
                    why = f"link lost: {reason}"
                    self._end(why, link_outcome(kind), out, state=state, disconnect=False)
            case local.LinkStatus():
                self._link_status(event, out)
            case local.TalkStarted(source=source):
                self._talk_started(source, out)
            case local.TalkEnded(commit=commit):
                self._talk_ended(commit, out)
            case server.RateLimits(exhausted=exhausted, reset_s=reset_s):
                if exhausted is not None:
                    self._busy(f"the {exhausted} rate limit is used up", reset_s, out)
            case local.DeviceHealth(ok=ok, message=message):
                self._device_health(ok, message, out)
            case _:
                pass
        return out

    # -- the visit: start, end, timers --------------------------------------------------

    def _to(self, new: State, out: list[Output]) -> None:
        if new is not self.state:
            out.append(StateChanged(self.state, new))
            self.state = new

    def _start(self, source: str, out: list[Output]) -> None:
        if self.active:
            return
        if (problem := self._can.device_problem) is not None:
            out.append(Note(f"not starting: {problem}"))
            return
        if self._can.backing_off(self._now_ms):
            out.append(Note(f"not starting ({source}): the service asked us to wait"))
            out.append(PlayPrompt("busy"))
            return
        if budget.refuse(self._guard, self.policy, self._now_ms, source, out):
            return
        was_down = self._can.link_down_why
        cid = f"conv-{next(self._conversation_ids)}"
        self.visitor = Visitor(cid, link=LinkKeeper(was_down), outbox=Outbox(self._event_ids))
        setup_ms = self.policy.setup_timeout_ms
        if was_down is not None:  # try it now: it may just have come back
            out.append(Note(f"the link was down ({was_down[0]}): trying it for {source}"))
            out.append(ProbeLink())
            setup_ms = min(setup_ms, self.policy.offline_try_ms)
        out.append(ConversationStarted(cid, source))
        self._to(State.CONNECTING, out)
        out += [Connect(cid), SetTimer(MAX_TIMER, self.policy.max_duration_ms)]
        out.append(SetTimer(SETUP_TIMER, setup_ms))

    def _listen_first(self, out: list[Output]) -> None:
        """The visitor's session is set up: listen."""
        out.append(CancelTimer(SETUP_TIMER))
        self._to(State.LISTENING, out)
        out += [Upload(True), SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms)]

    def _listen(self, out: list[Output], state: State = State.LISTENING) -> None:
        """The caller may speak: the idle deadline runs."""
        self._to(state, out)
        out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))

    def _think(self, out: list[Output]) -> None:
        """The caller's turn is answered: the reply is asked for (through the gate)."""
        steps.ask_reply(self.visitor, out)
        self._to(State.THINKING, out)

    def _end(
        self,
        reason: str,
        outcome: Outcome,
        out: list[Output],
        *,
        state: State = State.IDLE,
        disconnect: bool = True,
    ) -> None:
        steps.drop_session_work(self.visitor, out)
        out += [CancelTimer(MAX_TIMER), CancelTimer(SETUP_TIMER), CancelTimer(RESTORE_TIMER)]
        if disconnect:
            out.append(Disconnect())
        hangup_ms = self.visitor.farewell.hangup_ms(self._now_ms)
        out.append(ConversationEnded(reason, hangup_ms, outcome))
        self._to(state, out)

    def _timer(self, name: str, out: list[Output]) -> None:
        if not self.active:
            return
        v = self.visitor
        if name == IDLE_TIMER and self.state in (State.LISTENING, State.HANDOVER):
            # quiet after a hand-over: the visitor waits for the human
            handed = self.state is State.HANDOVER
            self._end("nobody spoke", Outcome.HANDED_OVER if handed else Outcome.NOBODY_SPOKE, out)
        elif name == MAX_TIMER:
            self._end("maximum conversation length reached", Outcome.TIMED_OUT, out)
        elif name.startswith(SLOW_PREFIX) and v.tools.is_pending(name[len(SLOW_PREFIX) :]):
            out.append(PlayPrompt("filler"))
        elif name == SETUP_TIMER and self.state is State.CONNECTING and v.link.was_down:
            self._no_link(*v.link.was_down, out, disconnect=True)  # still none: say so
        elif name == SETUP_TIMER and self.state is State.CONNECTING:
            s = self.policy.setup_timeout_ms / 1000.0
            why = f"the server did not set up the session in {s:g} s"
            out.append(ErrorReported("session_setup", why))
            self._end("the server did not answer", Outcome.OFFLINE, out, state=State.OFFLINE)
        elif name == RESTORE_TIMER and self.state is State.RECONNECTING:
            v.link.lost_said()
            out.append(PlayPrompt("connection_lost"))
        elif name == STALL_TIMER and v.gate.active is not None:
            steps.abandon_reply(v, self.policy.reply_stall_ms, out)
            if not v.tools.busy:
                self._to(State.SPEAKING, out)  # the prompt plays, then the caller is heard
                out.append(AwaitPlayback())
        elif name == TRANSCRIPT_TIMER:  # the words never came: the tool decides without them
            v.caller.forget_words()
            steps.release_held(v, self.policy, out)
        elif name == RETRY_TIMER and v.outbox.retry_due() and v.gate.in_flight:
            out.append(Note("asking again for the reply the server failed"))
            v.outbox.send(RequestReply(), out)

    def _device_health(self, ok: bool, message: str, out: list[Output]) -> None:
        """A missing microphone is the error state until it is back: nobody can be heard."""
        out.append(AudioDeviceChanged(ok, message))
        if not ok:
            self._can.device_lost(message)
            if self.active:
                out.append(PlayPrompt("error"))
                why = f"audio device problem: {message}"
                self._end(why, Outcome.FAILED, out, state=State.ERROR)
            else:
                self._to(State.ERROR, out)
        elif self._can.device_back() and self.state is State.ERROR:
            self._to(State.IDLE, out)

    # -- server errors and the service busy ---------------------------------------------

    def _error(self, ev: server.ServerError, out: list[Output]) -> None:
        """Errors answer events: a refusal of a request counts only if it names one of ours
        (the books and the verdict: `steps.judge_error`).

        - An error naming no event the device sent (or one it no longer knows) is reported
          and changes nothing it sends, unless its kind is session-wide (below).
        - ``REPLY_BUSY`` naming our reply request, still wanted: it is asked again after
          the running response.
        - ``SERVER`` (a transient ``server_error``) naming our reply request while it is
          still unanswered: asked again once after ``policy.server_error_retry_ms``
          (``RETRY_TIMER``); failed again before any response came, the service is busy
          (the ``busy`` prompt, the visit ends, `Outcome.BUSY`). A ``server_error``
          naming another command of ours (a tool output, a truncate, a session update) is
          reported only: the conversation goes on (a session update never acknowledged
          runs into the setup deadline).
        - ``RATE_LIMITED``, whatever it names: the service is busy.
        - Session-wide errors (expiry: a new session, or offline; a bad key or settings:
          the error state) end the session whatever they name.
        """
        match steps.judge_error(self.visitor, self.policy, ev, active=self.active, out=out):
            case steps.Verdict.BUSY | steps.Verdict.BUSY_AGAIN as verdict:
                again = " twice" if verdict is steps.Verdict.BUSY_AGAIN else ""
                self._busy(f"the server said {ev.code}{again}", 0.0, out)
            case steps.Verdict.SESSION_OVER:
                why = f"session ended by the server ({ev.code})"
                if self.state is not State.CONNECTING and self._may_reconnect(True):
                    self._reconnect(why, out, disconnect=True)
                else:
                    self._end(why, Outcome.OFFLINE, out, state=State.OFFLINE)
            case steps.Verdict.REFUSED:
                why = f"server refused the session ({ev.code})"
                self._end(why, Outcome.FAILED, out, state=State.ERROR)
            case steps.Verdict.GOES_ON:
                pass

    def _busy(self, why: str, wait_s: float, out: list[Output]) -> None:
        """The service is overloaded: say so (never silence), back off, end the visit."""
        self._can.back_off(self._now_ms + wait_s * 1000.0)
        out.append(ErrorReported("busy", why))
        if self.active:
            out.append(PlayPrompt("busy"))
            self.visitor.farewell.decide("the service is busy", Outcome.BUSY)
            self._end("the service is busy", Outcome.BUSY, out)

    # -- replies -------------------------------------------------------------------------

    def _response_done(self, ev: server.ResponseDone, out: list[Output]) -> None:
        v = self.visitor
        send_queued = steps.reply_done(v, ev, out)
        bill = (v, self.policy, self._guard, ev.response_id, ev.usage, self.context)
        budget.bill(*bill, active=self.active, now_ms=self._now_ms, out=out)
        if not self.active:
            return
        if ev.status == "failed":
            out.append(ErrorReported("response_failed", ev.reason or ""))
        if send_queued:
            v.outbox.send(RequestReply(), out)
        elif not v.tools.busy and (
            self.state in (State.SPEAKING, State.THINKING, State.TOOL) or v.farewell.decided
        ):
            out.append(AwaitPlayback())  # listen (or hang up) once the reply has played

    def _playback_idle(self, out: list[Output]) -> None:
        v = self.visitor
        if not self.active or v.tools.busy or v.gate.active is not None:
            return
        if v.farewell.decided:
            self._end(v.farewell.reason, v.farewell.outcome, out)
        elif self.state in (State.SPEAKING, State.THINKING):
            self._listen(out, State.HANDOVER if v.farewell.handed_over else State.LISTENING)

    def _interrupt(self, source: str, out: list[Output], *, device: bool) -> None:
        """Barge-in, step 1: silence the speaker now; the daemon answers PlaybackStopped."""
        items = self.visitor.replies.interrupt(self._now_ms)
        out.append(StopPlayback(source, items, device_initiated=device))
        self._to(State.LISTENING, out)

    # -- tools ---------------------------------------------------------------------------

    def _function_call(self, ev: server.FunctionCallDone, out: list[Output]) -> None:
        if self.active:
            self._to(State.TOOL, out)
            steps.take_call(self.visitor, self.policy, ev, self._now_ms, out)

    def _tool_finished(self, call_id: str, result: ToolResult, out: list[Output]) -> None:
        v = self.visitor
        done = v.tools.finish(call_id, self._now_ms)
        if done is None or not self.active:
            return
        steps.answer_tool(v, done, result, out)
        if v.tools.busy:
            return
        if not v.farewell.decided:
            self._think(out)
        else:  # the goodbye plays out (the model's reply, or the prompt), then the hang-up
            self._to(State.SPEAKING, out)
            if v.gate.active is None:
                out.append(AwaitPlayback())

    # -- push-to-talk (see device/conversation/steps.py) ---------------------------------

    def _talk_started(self, source: str, out: list[Output]) -> None:
        if not self.active:
            self._start(source, out)
            if self.active:
                self.visitor.talk.wait()
        elif self.state is State.CONNECTING or self.state is State.RECONNECTING:
            self.visitor.talk.wait()
        else:
            if self.state is State.SPEAKING:
                self._interrupt(source, out, device=True)
            self._begin_talk(out)

    def _begin_talk(self, out: list[Output]) -> None:
        if steps.hold_turn(self.visitor, self.policy, out) and self.state is not State.LISTENING:
            self._to(State.LISTENING, out)

    def _talk_ended(self, commit: bool, out: list[Output]) -> None:
        v = self.visitor
        if v.talk.early_release():  # released before the session was ready: nothing heard
            out.append(Note("the button was released before the session was ready"))
            return
        if not v.talk.talking or not self.active:
            return
        steps.release_turn(v, commit, self._now_ms, out)
        if commit:
            self._think(out)
        else:
            out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))
        steps.turn_detection_back(v, self.policy, out)

    # -- the link ------------------------------------------------------------------------

    def _link_lost(self, ev: local.LinkLost, out: list[Output]) -> None:
        if not self.active or self.state is State.RECONNECTING:
            return  # (reconnecting: the old link's last words; the new one is on its way)
        out.append(ErrorReported("link_lost", ev.reason))
        outcome = link_outcome(ev.kind)
        if self.state is State.CONNECTING:  # it could not be opened for this visitor
            if ev.kind == "auth":
                why = f"link refused: {ev.reason}"
                self._end(why, outcome, out, state=State.ERROR, disconnect=False)
                return
            self._no_link(ev.reason, ev.kind, out, disconnect=False)
            return
        if self._may_reconnect(ev.retryable):
            self._reconnect(f"link lost: {ev.reason}", out, disconnect=False)
            return
        if reconnects := self.visitor.link.reconnects:
            out.append(Note(f"gave up after {reconnects} new session(s)"))
        out.append(PlayPrompt("connection_lost"))
        self._end(f"link lost: {ev.reason}", outcome, out, state=State.OFFLINE, disconnect=False)

    def _no_link(self, reason: str, kind: str, out: list[Output], *, disconnect: bool) -> None:
        """No session could be had for the visitor: say so (never silence), offline."""
        out.append(PlayPrompt("busy" if kind == "busy" else "offline"))
        why = f"no link: {reason}"
        self._end(why, link_outcome(kind), out, state=State.OFFLINE, disconnect=disconnect)

    def _may_reconnect(self, retryable: bool) -> bool:
        p = self.policy
        return self.visitor.link.may_reconnect(
            retryable, enabled=p.reconnect, budget=p.max_reconnects
        )

    def _reconnect(self, why: str, out: list[Output], *, disconnect: bool) -> None:
        """The session is gone mid-conversation: open a new one, restore the words so far."""
        steps.leave_session(self.visitor, why, disconnect=disconnect, out=out)
        self._to(State.RECONNECTING, out)
        out += [Reconnect(), SetTimer(RESTORE_TIMER, self.policy.restore_prompt_ms)]

    def _session_ready(self, restore: bool, out: list[Output]) -> None:
        v = self.visitor
        if self.state is State.CONNECTING:
            self._listen_first(out)
            if v.talk.pending:
                self._begin_talk(out)
        elif self.state is State.RECONNECTING and restore:
            steps.restore_words(v, out)
            if v.replies.caller_spoke_last and not v.farewell.decided:
                self._think(out)  # the caller's last words were not answered yet
            else:
                self._listen(out)

    def _link_status(self, ev: local.LinkStatus, out: list[Output]) -> None:
        """While idle: the standby keeper says whether a link can be had."""
        if ev.up:
            self._can.link_up()
            if self.state is State.OFFLINE or (
                self.state is State.ERROR and self._can.device_problem is None
            ):
                self._to(State.IDLE, out)
                if self.policy.back_online_prompt:
                    out.append(PlayPrompt("back_online"))
            return
        first = self._can.link_down(ev.reason, ev.kind)
        if first and not self.active:  # a visitor waiting hears of it through LinkLost
            out.append(ErrorReported("link_down", ev.reason))
        if not self.active and self.state is State.IDLE:
            self._to(State.ERROR if ev.kind == "auth" else State.OFFLINE, out)
