"""The engine's tool turns: a call arrives, runs (or waits for the caller's words), finishes.

A mixin of `Conversation` (device/conversation/engine.py), split out by job; it uses the
engine's visitor, policy, state and send helpers, and stays pure like the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from device.conversation.commands import AwaitPlayback, CancelTimer, PlayPrompt, RunTool, SetTimer
from device.conversation.parts import EngineParts
from device.conversation.policy import (
    IDLE_TIMER,
    SLOW_PREFIX,
    TRANSCRIPT_TIMER,
)
from device.conversation.reports import HandedOver, ToolReported
from device.conversation.state import State
from device.realtime.commands import RequestReply, SendToolOutput
from device.realtime.events import FunctionCallDone
from device.tools.base import ToolAction, ToolCall, ToolResult

if TYPE_CHECKING:
    from device.conversation.engine import Output


class ToolTurns(EngineParts):
    """Mixed into `Conversation` (see device/conversation/parts.py)."""

    def _function_call(self, ev: FunctionCallDone, out: list[Output]) -> None:
        if not self.active:
            return
        v = self.visitor
        call = ToolCall(call_id=ev.call_id, name=ev.name, arguments=ev.arguments)
        v.pending_tools[ev.call_id] = call
        v.call_response[ev.call_id] = ev.response_id
        v.call_at_ms[ev.call_id] = self._now_ms
        self._to(State.TOOL, out)
        out.append(CancelTimer(IDLE_TIMER))
        if call.name in self.policy.confirm_tools and v.untranscribed:
            # its check reads the caller's yes or no from the transcript: let it land first
            v.held.append(call)
            out.append(SetTimer(TRANSCRIPT_TIMER, self.policy.transcript_wait_ms))
        else:
            out.append(RunTool(call, self.context()))
        out.append(SetTimer(SLOW_PREFIX + ev.call_id, self.policy.slow_tool_ms))

    def _transcribed(self, item_id: str, out: list[Output]) -> None:
        self.visitor.untranscribed.discard(item_id)
        if not self.visitor.untranscribed:
            self._release_held(out)

    def _release_held(self, out: list[Output]) -> None:
        v = self.visitor
        if not v.held:
            return
        out.append(CancelTimer(TRANSCRIPT_TIMER))
        held, v.held = v.held, []
        for call in held:
            if call.call_id in v.pending_tools:
                out.append(RunTool(call, self.context()))

    def _tool_finished(self, call_id: str, result: ToolResult, out: list[Output]) -> None:
        v = self.visitor
        call = v.pending_tools.pop(call_id, None)
        if call is None or not self.active:
            return
        out.append(CancelTimer(SLOW_PREFIX + call_id))
        out.append(
            ToolReported(
                name=call.name,
                arguments=call.arguments,
                ok=result.ok,
                ms=round(result.ms, 1),
                output=result.output,
                action=result.action.value,
            )
        )
        self._send(SendToolOutput(call_id, result.output), out)
        said_goodbye = v.call_response.pop(call_id, "") in v.spoken_responses
        if result.prompt and not (result.action is ToolAction.END and said_goodbye):
            out.append(PlayPrompt(result.prompt))
        if result.action in (ToolAction.HANDOVER_HOLD, ToolAction.HANDOVER_END):
            v.handover = True
            out.append(HandedOver(call.name))
        asked_at = v.call_at_ms.pop(call_id, self._now_ms)
        if result.action is ToolAction.END:
            v.ending = "the caller said goodbye"
            v.ending_since_ms = asked_at
        elif result.action is ToolAction.HANDOVER_END:
            v.ending = "handed over to a human"
            v.ending_since_ms = asked_at
        if v.pending_tools:
            return
        if v.ending is None:
            if v.gate.request():
                self._send(RequestReply(), out)
            self._to(State.THINKING, out)
        else:  # the goodbye plays out (the model's reply, or the prompt), then the hang-up
            self._to(State.SPEAKING, out)
            if v.gate.active is None:
                out.append(AwaitPlayback())
