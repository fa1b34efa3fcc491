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

The engine decides every transition of ``state``, and only it: the visitor's small
machines (visitor.py) keep the books, and the pure functions it calls build the commands
and reports and say what an event means, never changing the state (steps.py; lifecycle.py,
a visit's start, session and end; push_to_talk.py; verdicts.py, what a server error
means). Every ``ConversationEnded`` carries an `Outcome` saying how the visit ended.

Example::

    conv = Conversation(ConversationPolicy(session=SessionSpec(settings.realtime)))
    out = conv.handle(StartRequested("button"), now_ms=0.0)
    # -> [ConversationStarted(...), StateChanged(IDLE, CONNECTING), Connect(...), SetTimer(...)]
"""

from __future__ import annotations

import itertools

import device.conversation.budget as budget
import device.conversation.inputs as local
import device.conversation.lifecycle as visit
import device.conversation.push_to_talk as ptt
import device.conversation.steps as steps
import device.realtime.events as server
from device.conversation.commands import AwaitPlayback, CancelTimer, Play, SetTimer, Upload
from device.conversation.link_keeper import Availability
from device.conversation.outputs import Output
from device.conversation.policy import (
    IDLE_TIMER,
    MAX_TIMER,
    SETUP_TIMER,
    STALL_TIMER,
    ConversationPolicy,
)
from device.conversation.reports import Outcome, StateChanged
from device.conversation.state import ENDED, OWING, State
from device.conversation.verdicts import Verdict, judge_error
from device.tools.base import ToolContext

__all__ = ["Conversation", "Output"]


class Conversation:
    """The device's conversations, one visitor at a time (see the module docstring)."""

    def __init__(self, policy: ConversationPolicy) -> None:
        self.policy = policy
        self.state = State.IDLE
        self._event_ids = itertools.count(1)  # shared by every visitor: ids never reused
        self.visitor = visit.nobody(self._event_ids)
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
        return self.state in OWING or self.visitor.owes

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
        v, active = self.visitor, self.active
        steps.reply_alive(v, self.policy, event, active=active, out=out)
        match event:
            case local.StartRequested(source=source):
                self._start(source, out)
            case local.StopRequested(reason=reason, outcome=outcome):
                if active:
                    self._end(reason, outcome, out)
            case server.SessionCreated():
                if self.state is State.CONNECTING:
                    visit.configure(v, self.policy, out)
            case server.SessionUpdated():
                if self.state is State.CONNECTING:
                    self._listen_first(out)
            case server.SpeechStarted(item_id=item_id):
                if active:
                    steps.caller_starts(v, item_id, out)
                    if self.state is State.SPEAKING and not v.farewell.decided:
                        self._interrupt("the caller (server)", out, device=False)
                    elif self.state in (State.LISTENING, State.THINKING):
                        self._to(State.LISTENING, out)
            case local.InterruptRequested(source=source):
                if self.state is State.SPEAKING and not v.farewell.decided:
                    self._interrupt(source, out, device=True)
            case local.PlaybackStopped():
                if active:  # barge-in, step 2
                    steps.truncate_heard(v, self.policy, event, now_ms, out)
                    if self.state is State.LISTENING:
                        out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))
            case server.SpeechStopped(item_id=item_id):
                steps.caller_stops(v, self.policy, item_id, now_ms, active=active, out=out)
                if self.state is State.LISTENING:
                    self._to(State.THINKING, out)
            case server.InputCommitted(item_id=item_id):
                v.caller.committed(item_id, expect_words=active and self.policy.transcribes)
            case server.InputTranscript() | server.InputTranscriptFailed():
                steps.caller_words(v, self.policy, event, active=active, out=out)
            case server.ResponseCreated(response_id=rid):
                steps.reply_created(v, self.policy, rid, active=active, out=out)
            case server.AudioDelta(item_id=item_id, pcm=pcm):
                if active and steps.take_audio(v, self.policy, event, now_ms, out):
                    if self.state in (State.THINKING, State.LISTENING, State.TOOL):
                        self._to(State.SPEAKING, out)
                    out += [CancelTimer(IDLE_TIMER), Play(item_id, pcm)]
            case server.TranscriptDone(item_id=item_id, text=text):
                steps.reply_words(v, item_id, text, active=active, out=out)
            case server.FunctionCallDone():
                if active:
                    self._to(State.TOOL, out)
                    steps.take_call(v, self.policy, event, now_ms, out)
            case local.ToolFinished():
                self._tool_finished(event, out)
            case server.ResponseDone():
                self._response_done(event, out)
            case local.PlaybackIdle():
                self._playback_idle(out)
            case local.TimerFired(name=name):
                if active:
                    self._timer(name, out)
            case server.ServerError():
                self._error(event, out)
            case local.LinkLost():
                self._link_lost(event, out)
            case local.SessionReady(restore=restore):
                self._session_ready(restore, out)
            case local.ReconnectFailed(reason=reason, kind=kind):
                if self.state is State.RECONNECTING:
                    why, outcome = visit.reconnect_failed(v, reason, kind, out)
                    state = State.ERROR if kind == "auth" else State.OFFLINE
                    self._end(why, outcome, out, state=state, disconnect=False)
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
        return out  # any other event (an unknown type among them) changes nothing

    # -- the visit: start, end, deadlines, server errors, the service busy --------------

    def _to(self, new: State, out: list[Output]) -> None:
        if new is not self.state:
            out.append(StateChanged(self.state, new))
            self.state = new

    def _start(self, source: str, out: list[Output]) -> None:
        """A visitor comes: a new `Visitor` (one visitor, one object), or a refusal."""
        can, now_ms = self._can, self._now_ms
        if self.active or visit.refused(can, self._guard, self.policy, now_ms, source, out):
            return
        number = next(self._conversation_ids)
        self.visitor = visit.welcome(number, source, can, self._event_ids, self.policy, out)
        self._to(State.CONNECTING, out)
        visit.connect(self.visitor, self.policy, out)

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
        visit.close(self.visitor, reason, outcome, self._now_ms, disconnect=disconnect, out=out)
        self._to(state, out)

    def _timer(self, name: str, out: list[Output]) -> None:
        """A deadline of the visit (those that change no state: `steps.timer_chores`)."""
        v = self.visitor
        if name == IDLE_TIMER and self.state in (State.LISTENING, State.HANDOVER):
            handed = self.state is State.HANDOVER  # quiet: the visitor waits for the human
            self._end("nobody spoke", Outcome.HANDED_OVER if handed else Outcome.NOBODY_SPOKE, out)
        elif name == MAX_TIMER:
            self._end("maximum conversation length reached", Outcome.TIMED_OUT, out)
        elif name == SETUP_TIMER and self.state is State.CONNECTING and v.link.was_down:
            self._no_link(*v.link.was_down, out, disconnect=True)  # still none: say so
        elif name == SETUP_TIMER and self.state is State.CONNECTING:
            steps.setup_failed(self.policy, out)
            self._end("the server did not answer", Outcome.OFFLINE, out, state=State.OFFLINE)
        elif name == STALL_TIMER and v.gate.active is not None:
            steps.abandon_reply(v, self.policy.reply_stall_ms, out)
            if not v.tools.busy:
                self._to(State.SPEAKING, out)  # the prompt plays, then the caller is heard
                out.append(AwaitPlayback())
        else:
            steps.timer_chores(v, self.policy, name, self.state, out)

    def _device_health(self, ok: bool, message: str, out: list[Output]) -> None:
        """A missing microphone is the error state until it is back: nobody can be heard."""
        back = visit.audio_device(self._can, ok, message, active=self.active, out=out)
        if not ok and self.active:
            self._end(f"audio device problem: {message}", Outcome.FAILED, out, state=State.ERROR)
        elif not ok:
            self._to(State.ERROR, out)
        elif back and self.state is State.ERROR:
            self._to(State.IDLE, out)

    def _error(self, ev: server.ServerError, out: list[Output]) -> None:
        """Errors answer events: what one means is `judge_error`'s verdict
        (device/conversation/verdicts.py); the transition it calls for is decided here."""
        judged = judge_error(self.visitor, self.policy, ev, active=self.active, out=out)
        match judged.verdict:
            case Verdict.BUSY:
                self._busy(judged.why, 0.0, out)
            case Verdict.SESSION_OVER:
                if self.state is not State.CONNECTING and self.visitor.link.may_reconnect(True):
                    self._reconnect(judged.why, out, disconnect=True)
                else:
                    self._end(judged.why, Outcome.OFFLINE, out, state=State.OFFLINE)
            case Verdict.REFUSED:
                self._end(judged.why, Outcome.FAILED, out, state=State.ERROR)

    def _busy(self, why: str, wait_s: float, out: list[Output]) -> None:
        """The service is overloaded: say so (never silence), back off, end the visit."""
        until_ms = self._now_ms + wait_s * 1000.0
        visit.service_busy(self._can, self.visitor, why, until_ms, active=self.active, out=out)
        if self.active:
            self._end("the service is busy", Outcome.BUSY, out)

    # -- replies and tools ---------------------------------------------------------------

    def _response_done(self, ev: server.ResponseDone, out: list[Output]) -> None:
        v, active = self.visitor, self.active
        sent = steps.reply_done(v, self.policy, self._guard, ev, self._now_ms, active, out)
        replying = self.state in (State.SPEAKING, State.THINKING, State.TOOL)
        if active and not sent and not v.tools.busy and (replying or v.farewell.decided):
            out.append(AwaitPlayback())  # listen (or hang up) once the reply has played

    def _playback_idle(self, out: list[Output]) -> None:
        v = self.visitor
        if not self.active or v.owes:
            return
        if v.farewell.decided:
            self._end(v.farewell.reason, v.farewell.outcome, out)
        elif self.state in (State.SPEAKING, State.THINKING):
            self._listen(out, State.HANDOVER if v.farewell.handed_over else State.LISTENING)

    def _interrupt(self, source: str, out: list[Output], *, device: bool) -> None:
        """Barge-in, step 1: silence the speaker now; the daemon answers PlaybackStopped."""
        steps.stop_playback(self.visitor, source, self._now_ms, device=device, out=out)
        self._to(State.LISTENING, out)

    def _tool_finished(self, ev: local.ToolFinished, out: list[Output]) -> None:
        v = self.visitor
        if not steps.answer_tool(v, ev, self._now_ms, active=self.active, out=out) or v.tools.busy:
            return
        if not v.farewell.decided:
            self._think(out)
        else:  # the goodbye plays out (the model's reply, or the prompt), then the hang-up
            self._to(State.SPEAKING, out)
            if v.gate.active is None:
                out.append(AwaitPlayback())

    # -- push-to-talk (see device/conversation/push_to_talk.py) --------------------------

    def _talk_started(self, source: str, out: list[Output]) -> None:
        if not self.active:
            self._start(source, out)  # pressed to start: the session is not ready yet
        if self.state is State.CONNECTING or self.state is State.RECONNECTING:
            self.visitor.talk.wait()
        elif self.active:
            if self.state is State.SPEAKING:
                self._interrupt(source, out, device=True)
            self._begin_talk(out)

    def _begin_talk(self, out: list[Output]) -> None:
        if ptt.hold_turn(self.visitor, self.policy, out) and self.state is not State.LISTENING:
            self._to(State.LISTENING, out)

    def _talk_ended(self, commit: bool, out: list[Output]) -> None:
        v = self.visitor
        if ptt.released_early(v, out) or not v.talk.talking or not self.active:
            return
        ptt.release_turn(v, self.policy, commit, self._now_ms, out)
        if commit:
            self._think(out)
        ptt.turn_detection_back(v, self.policy, out)

    # -- the link ------------------------------------------------------------------------

    def _link_lost(self, ev: local.LinkLost, out: list[Output]) -> None:
        if not self.active or self.state is State.RECONNECTING:
            return  # (reconnecting: the old link's last words; the new one is on its way)
        why, outcome = visit.link_lost(ev.reason, ev.kind, out)
        if self.state is State.CONNECTING and ev.kind == "auth":  # refused for this visitor
            why = f"link refused: {ev.reason}"
            self._end(why, outcome, out, state=State.ERROR, disconnect=False)
        elif self.state is State.CONNECTING:  # it could not be opened for this visitor
            self._no_link(ev.reason, ev.kind, out, disconnect=False)
        elif self.visitor.link.may_reconnect(ev.retryable):
            self._reconnect(why, out, disconnect=False)
        else:
            visit.link_given_up(self.visitor, out)
            self._end(why, outcome, out, state=State.OFFLINE, disconnect=False)

    def _no_link(self, reason: str, kind: str, out: list[Output], *, disconnect: bool) -> None:
        """No session could be had for the visitor: say so (never silence), offline."""
        why, outcome = visit.no_link(reason, kind, out)
        self._end(why, outcome, out, state=State.OFFLINE, disconnect=disconnect)

    def _reconnect(self, why: str, out: list[Output], *, disconnect: bool) -> None:
        """The session is gone mid-conversation: open a new one, restore the words so far."""
        visit.leave_session(self.visitor, why, disconnect=disconnect, out=out)
        self._to(State.RECONNECTING, out)
        visit.reconnect(self.policy, out)

    def _session_ready(self, restore: bool, out: list[Output]) -> None:
        v = self.visitor
        if self.state is State.CONNECTING:
            self._listen_first(out)
            if v.talk.pending:
                self._begin_talk(out)
        elif self.state is State.RECONNECTING and restore:
            visit.restore_words(v, out)
            if v.replies.caller_spoke_last and not v.farewell.decided:
                self._think(out)  # the caller's last words were not answered yet
            else:
                self._listen(out)

    def _link_status(self, ev: local.LinkStatus, out: list[Output]) -> None:
        """While idle: the standby keeper says whether a link can be had."""
        if ev.up:
            self._can.link_up()
            if self.state is State.OFFLINE or (self.state is State.ERROR and self._can.device_ok):
                self._to(State.IDLE, out)
                visit.back_online(self.policy, out)
            return
        visit.link_down(self._can, ev.reason, ev.kind, active=self.active, out=out)
        if not self.active and self.state is State.IDLE:
            self._to(State.ERROR if ev.kind == "auth" else State.OFFLINE, out)
