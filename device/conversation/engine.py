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

Example::

    conv = Conversation(ConversationPolicy(session=SessionSpec(settings.realtime)))
    out = conv.handle(StartRequested("button"), now_ms=0.0)
    # -> [ConversationStarted(...), StateChanged(IDLE, CONNECTING), Connect(...), SetTimer(...)]
"""

from __future__ import annotations

import dataclasses
import itertools

from device.conversation.barge_in import BargeIn
from device.conversation.commands import (
    CancelTimer,
    Command,
    Connect,
    Disconnect,
    HoldUpload,
    PlayPrompt,
    ProbeLink,
    Send,
    SetTimer,
    Upload,
)
from device.conversation.inputs import (
    DeviceHealth,
    Event,
    InterruptRequested,
    LinkLost,
    LinkStatus,
    PlaybackIdle,
    PlaybackStopped,
    ReconnectFailed,
    SessionReady,
    StartRequested,
    StopRequested,
    TalkEnded,
    TalkStarted,
    TimerFired,
    ToolFinished,
)
from device.conversation.link_turns import LinkTurns
from device.conversation.policy import (
    IDLE_TIMER,
    MAX_TIMER,
    RESTORE_TIMER,
    SETUP_TIMER,
    SLOW_PREFIX,
    STALL_TIMER,
    TRANSCRIPT_TIMER,
    ConversationPolicy,
)
from device.conversation.reply_turns import ReplyTurns
from device.conversation.reports import (
    AssistantSaid,
    AudioDeviceChanged,
    CallerSaid,
    ConversationEnded,
    ConversationStarted,
    ErrorReported,
    Note,
    Report,
    StateChanged,
    TurnEnded,
)
from device.conversation.state import ENDED, State
from device.conversation.talk_turns import TalkTurns
from device.conversation.tool_turns import ToolTurns
from device.conversation.visitor import Visitor
from device.realtime.commands import (
    LinkCommand,
    RequestReply,
)
from device.realtime.commands import UpdateSession as UpdateSessionCommand
from device.realtime.events import (
    AudioDelta,
    ErrorKind,
    FunctionCallDone,
    Ignored,
    InputCommitted,
    InputTranscript,
    InputTranscriptFailed,
    RateLimits,
    ResponseCreated,
    ResponseDone,
    ServerError,
    SessionCreated,
    SessionUpdated,
    Severity,
    SpeechStarted,
    SpeechStopped,
    TranscriptDone,
)
from device.tools.base import ToolContext

Output = Command | Report
_REPLY_PROGRESS = (AudioDelta, TranscriptDone, FunctionCallDone, Ignored)
"""Server events that show a running reply is still alive."""


class Conversation(ToolTurns, TalkTurns, LinkTurns, BargeIn, ReplyTurns):
    """The device's conversations, one visitor at a time (see the module docstring)."""

    def __init__(self, policy: ConversationPolicy) -> None:
        self.policy = policy
        self.state = State.IDLE
        self.visitor = Visitor()
        self._conversation_ids = itertools.count(1)
        self._event_ids = itertools.count(1)
        self._now_ms = 0.0
        self._device_problem: str | None = None  # an audio device is missing
        self._link_down: tuple[str, str] | None = None  # (reason, kind) while idle
        self._busy_until_ms = 0.0  # the server asked the device to back off until then

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
            bool(v.pending_tools) or v.gate.active is not None
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

    def handle(self, event: Event, now_ms: float) -> list[Output]:
        out: list[Output] = []
        self._now_ms = now_ms
        v = self.visitor
        if v.gate.active is not None and self.active and isinstance(event, _REPLY_PROGRESS):
            out.append(SetTimer(STALL_TIMER, self.policy.reply_stall_ms))  # the reply lives
        match event:
            case StartRequested(source=source):
                self._start(source, out)
            case StopRequested(reason=reason):
                if self.active:
                    self._end(reason, out)
            case SessionCreated():
                if self.state is State.CONNECTING:
                    self._send(UpdateSessionCommand(self.policy.session), out)
            case SessionUpdated():
                if self.state is State.CONNECTING:
                    out.append(CancelTimer(SETUP_TIMER))
                    self._to(State.LISTENING, out)
                    out.append(Upload(True))
                    out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))
            case SpeechStarted(item_id=item_id):
                if self.active:
                    v.caller_items.add(item_id)
                    v.caller_turn_open = True
                    out.append(HoldUpload(True))
                    out.append(CancelTimer(IDLE_TIMER))
                    if self.state is State.SPEAKING and v.ending is None:
                        self._interrupt("the caller (server)", out, device=False)
                    elif self.state in (State.LISTENING, State.THINKING):
                        self._to(State.LISTENING, out)
            case InterruptRequested(source=source):
                if self.state is State.SPEAKING and v.ending is None:
                    self._interrupt(source, out, device=True)
            case PlaybackStopped():
                self._playback_stopped(event, out)
            case SpeechStopped():
                if v.caller_turn_open:
                    v.caller_turn_open = False
                    out.append(HoldUpload(False))
                if self.active:
                    v.caller_items.add(event.item_id)
                    v.speech_stopped_at_ms = now_ms
                    v.first_audio_seen = False
                    v.turns += 1
                    out.append(TurnEnded(v.turns))
                    if self.policy.transcribes:
                        v.untranscribed.add(event.item_id)
                    if self.state is State.LISTENING:
                        self._to(State.THINKING, out)
            case InputCommitted(item_id=item_id):
                if self.active and item_id not in v.caller_items and self.policy.transcribes:
                    v.untranscribed.add(item_id)  # a hand commit: no speech_stopped came
                v.caller_items.add(item_id)
            case InputTranscript(item_id=item_id, text=text):
                if self.active and item_id in v.caller_items:
                    v.transcript.append(("user", text))
                    out.append(CallerSaid(text))
                    self._transcribed(item_id, out)
            case InputTranscriptFailed(item_id=item_id, message=message):
                if self.active and item_id in v.caller_items:
                    out.append(Note(f"the caller's words were not transcribed: {message}"))
                    self._transcribed(item_id, out)
            case ResponseCreated(response_id=rid):
                v.gate.on_created(rid)
                if self.active:
                    out.append(SetTimer(STALL_TIMER, self.policy.reply_stall_ms))
            case AudioDelta(response_id=rid, item_id=item_id, pcm=pcm):
                self._audio(rid, item_id, pcm, now_ms, out)
            case TranscriptDone(item_id=item_id, text=text):
                if text and self.active:
                    out.append(AssistantSaid(text))
                    self._remember_reply(item_id, text)
            case FunctionCallDone():
                self._function_call(event, out)
            case ToolFinished(call_id=call_id, result=result):
                self._tool_finished(call_id, result, out)
            case ResponseDone():
                self._response_done(event, out)
            case PlaybackIdle():
                self._playback_idle(out)
            case TimerFired(name=name):
                self._timer(name, out)
            case ServerError():
                self._error(event, out)
            case LinkLost():
                self._link_lost(event, out)
            case SessionReady(restore=restore):
                self._session_ready(restore, out)
            case ReconnectFailed(reason=reason, kind=kind):
                if self.state is State.RECONNECTING:
                    out.append(ErrorReported("reconnect_failed", reason))
                    if not v.lost_prompt_played:
                        out.append(PlayPrompt("connection_lost"))
                    state = State.ERROR if kind == "auth" else State.OFFLINE
                    self._end(f"link lost: {reason}", out, state=state, disconnect=False)
            case LinkStatus():
                self._link_status(event, out)
            case TalkStarted(source=source):
                self._talk_started(source, out)
            case TalkEnded(commit=commit):
                self._talk_ended(commit, out)
            case RateLimits(exhausted=exhausted, reset_s=reset_s):
                if exhausted is not None:
                    self._busy(f"the {exhausted} rate limit is used up", reset_s, out)
            case DeviceHealth(ok=ok, message=message):
                self._device_health(ok, message, out)
            case _:
                pass
        return out

    def context(self) -> ToolContext:
        return ToolContext(
            conversation_id=self.visitor.conversation_id,
            transcript=tuple(self.visitor.transcript),
            device_name=self.policy.device_name,
            site=self.policy.site,
        )

    # -- transitions -----------------------------------------------------------------

    def _to(self, new: State, out: list[Output]) -> None:
        if new is not self.state:
            out.append(StateChanged(self.state, new))
            self.state = new

    def _send(self, command: LinkCommand, out: list[Output]) -> None:
        """Stamp ``command`` with a fresh event_id, remember it, and send it."""
        stamped = dataclasses.replace(command, event_id=f"dev_{next(self._event_ids)}")
        self.visitor.remember(stamped)
        out.append(Send(stamped))

    def _device_health(self, ok: bool, message: str, out: list[Output]) -> None:
        """A missing microphone is the error state until it is back: nobody can be heard."""
        out.append(AudioDeviceChanged(ok, message))
        if not ok:
            self._device_problem = message
            if self.active:
                out.append(PlayPrompt("error"))
                self._end(f"audio device problem: {message}", out, state=State.ERROR)
            else:
                self._to(State.ERROR, out)
        elif self._device_problem is not None:
            self._device_problem = None
            if self.state is State.ERROR:
                self._to(State.IDLE, out)

    def _start(self, source: str, out: list[Output]) -> None:
        if self.active:
            return
        if self._device_problem is not None:
            out.append(Note(f"not starting: {self._device_problem}"))
            return
        if self._busy_until_ms > self._now_ms:
            out.append(Note(f"not starting ({source}): the service asked us to wait"))
            out.append(PlayPrompt("busy"))
            return
        self.visitor = Visitor(conversation_id=f"conv-{next(self._conversation_ids)}")
        setup_ms = self.policy.setup_timeout_ms
        if self._link_down is not None:  # try it now: it may just have come back
            self.visitor.link_was_down = self._link_down
            out.append(Note(f"the link was down ({self._link_down[0]}): trying it for {source}"))
            out.append(ProbeLink())
            setup_ms = min(setup_ms, self.policy.offline_try_ms)
        out.append(ConversationStarted(self.visitor.conversation_id, source))
        self._to(State.CONNECTING, out)
        out.append(Connect(self.visitor.conversation_id))
        out.append(SetTimer(MAX_TIMER, self.policy.max_duration_ms))
        out.append(SetTimer(SETUP_TIMER, setup_ms))

    def _end(
        self,
        reason: str,
        out: list[Output],
        *,
        state: State = State.IDLE,
        disconnect: bool = True,
    ) -> None:
        v = self.visitor
        self._drop_session_work(out)
        out.append(CancelTimer(MAX_TIMER))
        out.append(CancelTimer(SETUP_TIMER))
        out.append(CancelTimer(RESTORE_TIMER))
        if disconnect:
            out.append(Disconnect())
        hangup_ms = None
        if v.ending_since_ms is not None:  # from the model's end/hand-over call to hang-up
            hangup_ms = round(self._now_ms - v.ending_since_ms, 1)
            v.ending_since_ms = None
        out.append(ConversationEnded(reason, hangup_ms))
        self._to(state, out)

    def _timer(self, name: str, out: list[Output]) -> None:
        if not self.active:
            return
        v = self.visitor
        if name == IDLE_TIMER and self.state in (State.LISTENING, State.HANDOVER):
            self._end("nobody spoke", out)
        elif name == MAX_TIMER:
            self._end("maximum conversation length reached", out)
        elif name.startswith(SLOW_PREFIX) and name[len(SLOW_PREFIX) :] in v.pending_tools:
            out.append(PlayPrompt("filler"))
        elif name == SETUP_TIMER and self.state is State.CONNECTING and v.link_was_down:
            reason, kind = v.link_was_down  # still no link: say so (never silence)
            out.append(PlayPrompt("busy" if kind == "busy" else "offline"))
            self._end(f"no link: {reason}", out, state=State.OFFLINE)
        elif name == SETUP_TIMER and self.state is State.CONNECTING:
            s = self.policy.setup_timeout_ms / 1000.0
            out.append(
                ErrorReported("session_setup", f"the server did not set up the session in {s:g} s")
            )
            self._end("the server did not answer", out, state=State.OFFLINE)
        elif name == RESTORE_TIMER and self.state is State.RECONNECTING:
            v.lost_prompt_played = True
            out.append(PlayPrompt("connection_lost"))
        elif name == STALL_TIMER and v.gate.active is not None:
            self._reply_stalled(out)
        elif name == TRANSCRIPT_TIMER:  # the words never came: the tool decides without them
            v.untranscribed.clear()
            self._release_held(out)

    def _error(self, ev: ServerError, out: list[Output]) -> None:
        """Errors answer events: a refusal of a request counts only if it names one of ours.

        A refused reply request is asked again (after the running response) only when it
        was ours and is still wanted; an error naming no event the device sent changes
        nothing it sends. Session-wide errors (expiry, a bad key) end the conversation
        whatever they name.
        """
        out.append(ErrorReported(ev.code, ev.message))
        v = self.visitor
        ours = v.sent.get(ev.client_event_id) if ev.client_event_id else None
        if ev.kind is ErrorKind.REPLY_BUSY:
            if isinstance(ours, RequestReply) and self.active:
                v.gate.on_rejected_active()
            return
        if ev.kind in (ErrorKind.RATE_LIMITED, ErrorKind.SERVER) and self.active:
            self._busy(f"the server said {ev.code}", 0.0, out)
            return
        if ev.severity is Severity.HARMLESS or not self.active:
            return
        if ev.severity is Severity.SESSION:
            if self.state is not State.CONNECTING and self._may_reconnect(True):
                self._reconnect(f"session ended by the server ({ev.code})", out, disconnect=True)
                return
            self._end(f"session ended by the server ({ev.code})", out, state=State.OFFLINE)
        else:
            self._end(f"server refused the session ({ev.code})", out, state=State.ERROR)
