"""The conversation engine as a table: events in, the commands it answers with (`brief`), the
state after each; the opening of a conversation and a caller's question as steps, a tool's
result, a reply under way.

    conv = Conversation(policy())
    outs = run(conv, [*OPEN, *CALLER_ASKS, Step(CALL, State.TOOL, [...])])
    assert reports(outs[-1], ToolReported) == [...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from device.conversation import (
    IDLE_TIMER,
    MAX_TIMER,
    RESTORE_TIMER,
    SETUP_TIMER,
    STALL_TIMER,
    CancelTimer,
    Conversation,
    ConversationPolicy,
    Event,
    HoldUpload,
    Output,
    Play,
    PlayPrompt,
    Report,
    RunTool,
    Send,
    SetTimer,
    StartRequested,
    State,
    Upload,
)
from device.realtime.commands import SessionSpec
from device.realtime.events import (
    AudioDelta,
    FunctionCallDone,
    InputTranscript,
    ResponseCreated,
    SessionCreated,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
)
from device.realtime.settings import RealtimeSettings
from device.tools.base import ToolAction, ToolResult

SESSION = SessionSpec(RealtimeSettings())
T = TypeVar("T")
PCM = b"\x01\x00" * 480  # 20 ms at 24 kHz


def policy() -> ConversationPolicy:
    return ConversationPolicy(
        session=SESSION,
        idle_timeout_ms=20_000,
        max_duration_ms=600_000,
        slow_tool_ms=700,
    )


DEADLINES = (SETUP_TIMER, STALL_TIMER, RESTORE_TIMER)


def deadline(cmd: Any) -> bool:
    """The setup and reply-stall deadlines: asserted by their own tests, left out elsewhere."""
    return isinstance(cmd, SetTimer | CancelTimer) and cmd.name in DEADLINES


def acts(out: Sequence[Output]) -> list[str]:
    """brief() of the commands that act (reports and deadline timers left out)."""
    return [brief(c) for c in out if not isinstance(c, Report) and not deadline(c)]


def brief(cmd: Output) -> str:
    """A short, comparable description of a command."""
    match cmd:
        case Send(command=command):
            return f"send {type(command).__name__}"
        case SetTimer(name=name):
            return f"set {name}"
        case CancelTimer(name=name):
            return f"cancel {name}"
        case Upload(on=on):
            return f"upload {'on' if on else 'off'}"
        case HoldUpload(on=on):
            return f"hold {'on' if on else 'off'}"
        case Play(item_id=item_id):
            return f"play {item_id}"
        case PlayPrompt(name=name):
            return f"prompt {name}"
        case RunTool(call=call):
            return f"run {call.name}"
        case _:
            return type(cmd).__name__.lower()


@dataclass
class Step:
    event: Event
    state: State
    commands: list[str]  # brief() of every non-Report command, in order
    now_ms: float = 0.0


def run(conv: Conversation, steps: list[Step]) -> list[list[Output]]:
    outputs: list[list[Output]] = []
    for i, step in enumerate(steps):
        out = conv.handle(step.event, step.now_ms)
        got = acts(out)
        assert got == step.commands, f"step {i} ({step.event}): {got}"
        assert conv.state is step.state, f"step {i} ({step.event}): state {conv.state}"
        outputs.append(out)
    return outputs


def reports(out: Sequence[object], kind: type[T]) -> list[T]:
    return [c for c in out if isinstance(c, kind)]


OPEN = [
    Step(StartRequested("button"), State.CONNECTING, ["connect", f"set {MAX_TIMER}"]),
    Step(SessionCreated("sess_1"), State.CONNECTING, ["send UpdateSession"]),
    Step(SessionUpdated("sess_1"), State.LISTENING, ["upload on", f"set {IDLE_TIMER}"]),
]
CALLER_ASKS = [
    Step(
        SpeechStarted("item_u1", 1000), State.LISTENING, ["hold on", f"cancel {IDLE_TIMER}"], 1000
    ),
    Step(SpeechStopped("item_u1", 2500), State.THINKING, ["hold off"], 2500),
    Step(InputTranscript("item_u1", "what are your hours"), State.THINKING, [], 2600),
    Step(ResponseCreated("resp_1"), State.THINKING, [], 2700),
]


def tool_result(action: ToolAction = ToolAction.CONTINUE, prompt: str | None = None) -> ToolResult:
    return ToolResult(output='{"status": "done"}', ok=True, ms=120.0, action=action, prompt=prompt)


CALL = FunctionCallDone("resp_1", "item_f1", "call_1", "job_status", '{"job": "4172"}')


def sent(out: Sequence[object], kind: type[T]) -> list[T]:
    return [c.command for c in out if isinstance(c, Send) and isinstance(c.command, kind)]


def speaking(conv: Conversation) -> None:
    run(conv, OPEN + CALLER_ASKS)
    conv.handle(AudioDelta("resp_1", "item_a1", 0, PCM * 50), 2800)  # 1000 ms received
    assert conv.state is State.SPEAKING
