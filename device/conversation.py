"""The conversation engine: a pure state machine.

``Conversation.handle(event, now_ms)`` takes one event (a typed server event from
device/realtime/events.py or a local event below) and the current time, and returns the
commands the adapters must carry out, in order. It performs no I/O and reads no clock.

Contract for the caller (device/app.py):
- carry out the returned commands in order, before handling the next event;
- ``Send`` events go out on the Realtime link in the order given;
- ``SetTimer(name, delay_ms)`` must later produce ``TimerFired(name)`` unless cancelled or
  replaced by a timer of the same name;
- ``RunTool`` must later produce ``ToolFinished`` for the same call_id;
- ``AwaitPlayback`` must produce ``PlaybackIdle`` once everything played so far has played.

Example::

    conv = Conversation(ConversationPolicy(session_update={...}))
    commands = conv.handle(StartRequested(), now_ms=0.0)   # -> [Connect(), Report(...)]
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from typing import Any

from device.realtime import protocol
from device.realtime.events import (
    AudioDelta,
    FunctionCallDone,
    InputTranscript,
    InputTranscriptFailed,
    ResponseCreated,
    ResponseDone,
    ServerError,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    TranscriptDone,
)
from device.tools.base import ToolAction, ToolCall, ToolContext, ToolResult


class State(enum.Enum):
    IDLE = "idle"  # no conversation; waiting for a wake (button, wake word, start-up)
    CONNECTING = "connecting"  # opening the visitor's Realtime session
    LISTENING = "listening"  # the caller may speak; audio is uploaded
    THINKING = "thinking"  # the caller's turn ended; waiting for the reply
    SPEAKING = "speaking"  # reply audio is arriving or playing
    TOOL = "tool"  # a tool the model called is running
    HANDOVER = "handover"  # a human was called (LEDs show it; a later issue)
    OFFLINE = "offline"  # the link is down (reconnect and canned prompts: a later issue)
    ERROR = "error"  # a fatal problem (bad key, bad session settings)


# ---- local events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartRequested:
    """Somebody wants to talk: a button press, a wake word, start-up (``source`` says which)."""

    source: str = "start-up"


@dataclass(frozen=True, slots=True)
class StopRequested:
    reason: str = "stopped"


@dataclass(frozen=True, slots=True)
class LinkLost:
    reason: str


@dataclass(frozen=True, slots=True)
class ToolFinished:
    call_id: str
    result: ToolResult


@dataclass(frozen=True, slots=True)
class PlaybackIdle:
    """Everything handed to the speaker so far has played."""


@dataclass(frozen=True, slots=True)
class TimerFired:
    name: str


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """An audio device went missing (ok=False) or came back (ok=True)."""

    ok: bool
    message: str


LocalEvent = (
    StartRequested
    | StopRequested
    | LinkLost
    | ToolFinished
    | PlaybackIdle
    | TimerFired
    | DeviceHealth
)
Event = ServerEvent | LocalEvent


# ---- commands -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connect:
    """Open the Realtime session for this conversation."""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the Realtime session: nothing of this conversation reaches the next."""


@dataclass(frozen=True, slots=True)
class Send:
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Upload:
    """Start (True) or stop (False) uploading microphone audio."""

    on: bool


@dataclass(frozen=True, slots=True)
class Play:
    item_id: str
    pcm: bytes


@dataclass(frozen=True, slots=True)
class PlayPrompt:
    """Play a canned local prompt (firmware_config/prompts/NAME.wav)."""

    name: str


@dataclass(frozen=True, slots=True)
class AwaitPlayback:
    """Report ``PlaybackIdle`` once the speaker has played everything queued."""


@dataclass(frozen=True, slots=True)
class RunTool:
    call: ToolCall
    context: ToolContext


@dataclass(frozen=True, slots=True)
class SetTimer:
    name: str
    delay_ms: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class Report:
    """Something worth showing: the timeline, the run summary, metrics, LEDs later.

    kinds: state (old, new), user (text), assistant (text), tool (name, arguments, ok, ms,
    output), first_audio (latency_ms), turn (n), usage (tokens), error (code, message),
    note (text), conversation_end (reason).
    """

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


Command = (
    Connect
    | Disconnect
    | Send
    | Upload
    | Play
    | PlayPrompt
    | AwaitPlayback
    | RunTool
    | SetTimer
    | CancelTimer
    | Report
)


@dataclass(frozen=True)
class ConversationPolicy:
    """What the engine needs from the settings, precomputed by the caller."""

    session_update: dict[str, Any]
    idle_timeout_ms: float = 20_000.0
    max_duration_ms: float = 600_000.0
    slow_tool_ms: float = 700.0
    device_name: str = ""
    site: str = ""
    # tools that run only after the caller's spoken yes: they wait for the caller's words
    confirm_tools: frozenset[str] = frozenset()
    transcribes: bool = True  # the session transcribes the caller (input transcription on)
    transcript_wait_ms: float = 2000.0  # longest wait for those words


IDLE_TIMER = "idle"
TRANSCRIPT_TIMER = "transcript"
MAX_TIMER = "max-duration"
SLOW_PREFIX = "slow-tool:"
_ENDED = (State.IDLE, State.OFFLINE, State.ERROR)


class Conversation:
    """One caller's conversation, from the start request to the hang-up (see module doc)."""

    def __init__(self, policy: ConversationPolicy) -> None:
        self.policy = policy
        self.state = State.IDLE
        self.gate = protocol.ResponseGate()
        self._ids = itertools.count(1)
        self.conversation_id = ""
        self.transcript: list[tuple[str, str]] = []
        self.turns = 0
        self._speech_stopped_at: float | None = None
        self._first_audio_seen = True
        self._pending_tools: dict[str, ToolCall] = {}
        self._ending: str | None = None  # reason, once a hang-up is decided
        self._handover = False
        self._dropped_responses: set[str] = set()
        self._spoken_responses: set[str] = set()  # responses that carried reply audio
        self._call_response: dict[str, str] = {}  # call_id -> the response that made the call
        self._call_at: dict[str, float] = {}  # call_id -> when the model asked for it
        self._ending_since: float | None = None  # when the caller's hang-up intent arrived
        self._now_ms = 0.0
        self._device_problem: str | None = None  # an audio device is missing
        self._untranscribed: set[str] = set()  # caller turns whose words have not arrived
        # the server heard the caller start speaking and not yet stop: the device keeps
        # uploading (even what its noise gate would hold back) so the server can end the turn
        self.caller_turn_open = False
        self._held: list[ToolCall] = []  # confirm tools waiting for the caller's words

    # -- public ----------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """A conversation is under way (connecting, talking, running a tool)."""
        return self.state not in _ENDED

    @property
    def busy(self) -> bool:
        """Something is still owed to the caller: a reply, a tool, or playback."""
        return self.state in (State.CONNECTING, State.THINKING, State.SPEAKING, State.TOOL) or (
            bool(self._pending_tools) or self.gate.active is not None
        )

    def handle(self, event: Event, now_ms: float) -> list[Command]:
        out: list[Command] = []
        self._now_ms = now_ms
        match event:
            case StartRequested(source=source):
                self._start(source, out)
            case StopRequested(reason=reason):
                if self.active:
                    self._end(reason, out)
            case SessionCreated():
                if self.state is State.CONNECTING:
                    out.append(Send(self.policy.session_update))
            case SessionUpdated():
                if self.state is State.CONNECTING:
                    self._to(State.LISTENING, out)
                    out.append(Upload(True))
                    out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))
            case SpeechStarted():
                if self.active:
                    self.caller_turn_open = True
                    out.append(CancelTimer(IDLE_TIMER))
                    if self.state in (State.LISTENING, State.THINKING):
                        self._to(State.LISTENING, out)
            case SpeechStopped():
                self.caller_turn_open = False
                if self.active:
                    self._speech_stopped_at = now_ms
                    self._first_audio_seen = False
                    self.turns += 1
                    out.append(Report("turn", {"n": self.turns}))
                    if self.policy.transcribes:
                        self._untranscribed.add(event.item_id)
                    if self.state is State.LISTENING:
                        self._to(State.THINKING, out)
            case InputTranscript(item_id=item_id, text=text):
                self.transcript.append(("user", text))
                out.append(Report("user", {"text": text}))
                self._transcribed(item_id, out)
            case InputTranscriptFailed(item_id=item_id, message=message):
                out.append(
                    Report("note", {"text": f"the caller's words were not transcribed: {message}"})
                )
                self._transcribed(item_id, out)
            case ResponseCreated(response_id=rid):
                self.gate.on_created(rid)
            case AudioDelta(response_id=rid, item_id=item_id, pcm=pcm):
                self._audio(rid, item_id, pcm, now_ms, out)
            case TranscriptDone(text=text):
                if text:
                    self.transcript.append(("assistant", text))
                    out.append(Report("assistant", {"text": text}))
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
            case LinkLost(reason=reason):
                if self.active:
                    out.append(Report("error", {"code": "link_lost", "message": reason}))
                    self._end(f"link lost: {reason}", out, state=State.OFFLINE, disconnect=False)
            case DeviceHealth(ok=ok, message=message):
                self._device_health(ok, message, out)
            case _:
                pass
        return out

    def context(self) -> ToolContext:
        return ToolContext(
            conversation_id=self.conversation_id,
            transcript=tuple(self.transcript),
            device_name=self.policy.device_name,
            site=self.policy.site,
        )

    # -- transitions -----------------------------------------------------------------

    def _to(self, new: State, out: list[Command]) -> None:
        if new is not self.state:
            out.append(Report("state", {"old": self.state.value, "new": new.value}))
            self.state = new

    def _device_health(self, ok: bool, message: str, out: list[Command]) -> None:
        """A missing microphone is the error state until it is back: nobody can be heard."""
        out.append(Report("note" if ok else "error", {"code": "audio", "message": message}))
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

    def _start(self, source: str, out: list[Command]) -> None:
        if self.active:
            return
        if self._device_problem is not None:
            out.append(Report("note", {"text": f"not starting: {self._device_problem}"}))
            return
        self.conversation_id = f"conv-{next(self._ids)}"
        self.transcript = []
        self.gate.reset()
        self._pending_tools.clear()
        self._ending = None
        self._handover = False
        self._dropped_responses.clear()
        self._spoken_responses.clear()
        self._call_response.clear()
        self._call_at.clear()
        self._ending_since = None
        self._untranscribed.clear()
        self._held.clear()
        self._speech_stopped_at = None
        self._first_audio_seen = True
        out.append(Report("note", {"text": f"conversation {self.conversation_id} ({source})"}))
        self._to(State.CONNECTING, out)
        out.append(Connect())
        out.append(SetTimer(MAX_TIMER, self.policy.max_duration_ms))

    def _end(
        self,
        reason: str,
        out: list[Command],
        *,
        state: State = State.IDLE,
        disconnect: bool = True,
    ) -> None:
        out.append(Upload(False))
        self.caller_turn_open = False
        out.append(CancelTimer(IDLE_TIMER))
        out.append(CancelTimer(MAX_TIMER))
        for call_id in self._pending_tools:
            out.append(CancelTimer(SLOW_PREFIX + call_id))
        if self._held:
            out.append(CancelTimer(TRANSCRIPT_TIMER))
            self._held.clear()
        self._pending_tools.clear()
        self.gate.reset()
        if disconnect:
            out.append(Disconnect())
        end: dict[str, Any] = {"reason": reason}
        if self._ending_since is not None:  # from the model's end/hand-over call to hang-up
            end["hangup_ms"] = round(self._now_ms - self._ending_since, 1)
            self._ending_since = None
        out.append(Report("conversation_end", end))
        self._to(state, out)

    def _audio(self, rid: str, item_id: str, pcm: bytes, now_ms: float, out: list[Command]) -> None:
        if not self.active or rid in self._dropped_responses:
            return
        self._spoken_responses.add(rid)
        if not self._first_audio_seen:
            self._first_audio_seen = True
            if self._speech_stopped_at is not None:
                latency = now_ms - self._speech_stopped_at
                out.append(Report("first_audio", {"latency_ms": round(latency, 1)}))
        if self.state in (State.THINKING, State.LISTENING, State.TOOL):
            self._to(State.SPEAKING, out)
        out.append(CancelTimer(IDLE_TIMER))
        out.append(Play(item_id, pcm))

    def _function_call(self, ev: FunctionCallDone, out: list[Command]) -> None:
        if not self.active:
            return
        call = ToolCall(call_id=ev.call_id, name=ev.name, arguments=ev.arguments)
        self._pending_tools[ev.call_id] = call
        self._call_response[ev.call_id] = ev.response_id
        self._call_at[ev.call_id] = self._now_ms
        self._to(State.TOOL, out)
        out.append(CancelTimer(IDLE_TIMER))
        if call.name in self.policy.confirm_tools and self._untranscribed:
            # its check reads the caller's yes or no from the transcript: let it land first
            self._held.append(call)
            out.append(SetTimer(TRANSCRIPT_TIMER, self.policy.transcript_wait_ms))
        else:
            out.append(RunTool(call, self.context()))
        out.append(SetTimer(SLOW_PREFIX + ev.call_id, self.policy.slow_tool_ms))

    def _transcribed(self, item_id: str, out: list[Command]) -> None:
        self._untranscribed.discard(item_id)
        if not self._untranscribed:
            self._release_held(out)

    def _release_held(self, out: list[Command]) -> None:
        if not self._held:
            return
        out.append(CancelTimer(TRANSCRIPT_TIMER))
        held, self._held = self._held, []
        for call in held:
            if call.call_id in self._pending_tools:
                out.append(RunTool(call, self.context()))

    def _tool_finished(self, call_id: str, result: ToolResult, out: list[Command]) -> None:
        call = self._pending_tools.pop(call_id, None)
        if call is None or not self.active:
            return
        out.append(CancelTimer(SLOW_PREFIX + call_id))
        out.append(
            Report(
                "tool",
                {
                    "name": call.name,
                    "arguments": call.arguments,
                    "ok": result.ok,
                    "ms": round(result.ms, 1),
                    "output": result.output,
                    "action": result.action.value,
                },
            )
        )
        out.append(Send(protocol.function_call_output(call_id, result.output)))
        said_goodbye = self._call_response.pop(call_id, "") in self._spoken_responses
        if result.prompt and not (result.action is ToolAction.END and said_goodbye):
            out.append(PlayPrompt(result.prompt))
        if result.action in (ToolAction.HANDOVER_HOLD, ToolAction.HANDOVER_END):
            self._handover = True
            out.append(Report("handover", {"tool": call.name}))
        asked_at = self._call_at.pop(call_id, self._now_ms)
        if result.action is ToolAction.END:
            self._ending = "the caller said goodbye"
            self._ending_since = asked_at
        elif result.action is ToolAction.HANDOVER_END:
            self._ending = "handed over to a human"
            self._ending_since = asked_at
        if self._pending_tools:
            return
        if self._ending is None:
            if self.gate.request():
                out.append(Send(protocol.response_create()))
            self._to(State.THINKING, out)
        else:  # the goodbye plays out (the model's reply, or the prompt), then the hang-up
            self._to(State.SPEAKING, out)
            if self.gate.active is None:
                out.append(AwaitPlayback())

    def _response_done(self, ev: ResponseDone, out: list[Command]) -> None:
        send_queued = self.gate.on_done(ev.response_id)
        self._dropped_responses.discard(ev.response_id)
        usage = ev.usage
        out.append(
            Report(
                "usage",
                {
                    "response_id": ev.response_id,
                    "status": ev.status,
                    "reason": ev.reason,
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "input_audio_tokens": usage.input_audio_tokens,
                    "output_audio_tokens": usage.output_audio_tokens,
                },
            )
        )
        if not self.active:
            return
        if ev.status == "failed":
            out.append(Report("error", {"code": "response_failed", "message": ev.reason or ""}))
        if send_queued:
            out.append(Send(protocol.response_create()))
            return
        if self._pending_tools:
            return
        if self.state in (State.SPEAKING, State.THINKING, State.TOOL) or self._ending:
            # wait for the reply to finish playing before listening (or hanging up)
            out.append(AwaitPlayback())

    def _playback_idle(self, out: list[Command]) -> None:
        if not self.active or self._pending_tools or self.gate.active is not None:
            return
        if self._ending is not None:
            self._end(self._ending, out)
            return
        if self.state in (State.SPEAKING, State.THINKING):
            self._to(State.HANDOVER if self._handover else State.LISTENING, out)
            out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))

    def _timer(self, name: str, out: list[Command]) -> None:
        if not self.active:
            return
        if name == IDLE_TIMER and self.state in (State.LISTENING, State.HANDOVER):
            self._end("nobody spoke", out)
        elif name == MAX_TIMER:
            self._end("maximum conversation length reached", out)
        elif name.startswith(SLOW_PREFIX) and name[len(SLOW_PREFIX) :] in self._pending_tools:
            out.append(PlayPrompt("filler"))
        elif name == TRANSCRIPT_TIMER:  # the words never came: the tool decides without them
            self._untranscribed.clear()
            self._release_held(out)

    def _error(self, ev: ServerError, out: list[Command]) -> None:
        out.append(Report("error", {"code": ev.code, "message": ev.message}))
        if ev.code == "conversation_already_has_active_response":
            self.gate.on_rejected_active()
            return
        if ev.severity == "harmless" or not self.active:
            return
        if ev.severity == "session":
            self._end(f"session ended by the server ({ev.code})", out, state=State.OFFLINE)
        else:
            self._end(f"server refused the session ({ev.code})", out, state=State.ERROR)
