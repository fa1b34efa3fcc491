"""What the engine's mixins use of `Conversation`, declared once for mypy.

The engine (engine.py) is split by job into mixins (tool_turns, talk_turns, link_turns,
barge_in, reply_turns); each inherits `EngineParts`, whose declarations say what of the
engine it may use. Nothing here runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from device.conversation.policy import ConversationPolicy
from device.conversation.state import State
from device.conversation.visitor import Visitor

if TYPE_CHECKING:
    from device.conversation.engine import Output
    from device.realtime.commands import LinkCommand
    from device.tools.base import ToolContext


class EngineParts:
    policy: ConversationPolicy
    visitor: Visitor
    state: State
    _now_ms: float
    _link_down: tuple[str, str] | None
    _busy_until_ms: float
    _device_problem: str | None

    if TYPE_CHECKING:

        @property
        def active(self) -> bool: ...

        def context(self) -> ToolContext: ...

        def _to(self, new: State, out: list[Output]) -> None: ...

        def _send(self, command: LinkCommand, out: list[Output]) -> None: ...

        def _start(self, source: str, out: list[Output]) -> None: ...

        def _end(
            self,
            reason: str,
            out: list[Output],
            *,
            state: State = State.IDLE,
            disconnect: bool = True,
        ) -> None: ...

        def _begin_talk(self, out: list[Output]) -> None: ...

        def _interrupt(self, source: str, out: list[Output], *, device: bool) -> None: ...

        def _remember_reply(self, item_id: str, text: str) -> None: ...
