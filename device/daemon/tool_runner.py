"""The tool runner: a tool call the engine asks for runs as a supervised task.

A part of the daemon (device/daemon/daemon.py). The tool box runs the call (its own
deadlines, HTTP rules and audit line); its result, or a plain failure should the box itself
raise, goes back to the engine as ``ToolFinished``.
"""

from __future__ import annotations

from collections.abc import Callable

from device.conversation import Event, ToolFinished
from device.daemon.supervisor import Spawn
from device.tools.base import ToolAction, ToolBox, ToolCall, ToolContext, ToolResult


class ToolRunner:
    def __init__(
        self, toolbox: ToolBox | None, *, spawn: Spawn, dispatch: Callable[[Event], None]
    ) -> None:
        self.toolbox = toolbox
        self._spawn = spawn
        self._dispatch = dispatch

    def start_conversation(self, conversation_id: str) -> None:
        if self.toolbox is not None:
            self.toolbox.start_conversation(conversation_id)

    def start(self, call: ToolCall, context: ToolContext) -> None:
        self._spawn(
            f"tool {call.name}",
            lambda: self._run(call, context),
            on_error=lambda exc: self._crashed(call, exc),
        )

    async def _run(self, call: ToolCall, context: ToolContext) -> None:
        if self.toolbox is None:
            result = ToolResult("No tools are configured on this device.", False, 0.0)
        else:
            result = await self.toolbox.run(call, context)
        self._dispatch(ToolFinished(call.call_id, result))

    def _crashed(self, call: ToolCall, exc: BaseException) -> None:
        """A tool box must not raise; if it does, the model hears a plain failure."""
        result = ToolResult(
            f"The tool {call.name} failed on the device.", False, 0.0, ToolAction.CONTINUE
        )
        self._dispatch(ToolFinished(call.call_id, result))
