"""The daemon's tool wiring: a tool call the engine asks for runs as a supervised task.

A mixin of `Daemon` (device/daemon/daemon.py), split out by job. The tool box runs the call (its own
deadlines, HTTP rules and audit line); its result, or a plain failure should the box itself
raise, goes back to the engine as ``ToolFinished``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from device.conversation import Event, ToolFinished
from device.tools.base import ToolAction, ToolBox, ToolCall, ToolContext, ToolResult


class ToolWiring:
    """Mixed into `Daemon`; what it uses of the daemon is declared here for mypy."""

    toolbox: ToolBox | None

    if TYPE_CHECKING:

        def dispatch(self, event: Event) -> None: ...

        def _spawn(
            self,
            name: str,
            factory: Callable[[], Any],
            *,
            restart: bool = False,
            on_error: Callable[[BaseException], None] | None = None,
        ) -> None: ...

    def _start_tool(self, call: ToolCall, context: ToolContext) -> None:
        self._spawn(
            f"tool {call.name}",
            lambda: self._run_tool(call, context),
            on_error=lambda exc: self._tool_crashed(call, exc),
        )

    async def _run_tool(self, call: ToolCall, context: ToolContext) -> None:
        if self.toolbox is None:
            result = ToolResult("No tools are configured on this device.", False, 0.0)
        else:
            result = await self.toolbox.run(call, context)
        self.dispatch(ToolFinished(call.call_id, result))

    def _tool_crashed(self, call: ToolCall, exc: BaseException) -> None:
        """A tool box must not raise; if it does, the model hears a plain failure."""
        result = ToolResult(
            f"The tool {call.name} failed on the device.", False, 0.0, ToolAction.CONTINUE
        )
        self.dispatch(ToolFinished(call.call_id, result))
