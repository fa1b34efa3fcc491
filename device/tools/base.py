"""The contract between the conversation engine and the tools the model may call.

The engine hands a `ToolCall` and a `ToolContext` to a `ToolBox`; the tool box validates,
applies guardrails, runs the tool with a bounded time, audits it, and always returns a
`ToolResult` (it never raises): failures go back to the model as a clear output string.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol


class ToolAction(enum.Enum):
    """What the device does after the tool output is sent."""

    CONTINUE = "continue"  # ask the model to go on (a new reply)
    END = "end"  # hang up once the reply so far has finished playing
    HANDOVER_HOLD = "handover_hold"  # a human was called; stay in the conversation
    HANDOVER_END = "handover_end"  # a human was called; end after the hand-over line


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the model sees it, protocol-neutral: the codec shapes the declaration."""

    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments


@dataclass(frozen=True, slots=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str  # raw JSON text written by the model


@dataclass(frozen=True, slots=True)
class ToolContext:
    conversation_id: str
    transcript: tuple[tuple[str, str], ...]  # (role "user" | "assistant", text), oldest first
    device_name: str = ""
    site: str = ""

    @property
    def last_user_text(self) -> str:
        for role, text in reversed(self.transcript):
            if role == "user":
                return text
        return ""


@dataclass(frozen=True, slots=True)
class ToolResult:
    output: str  # sent to the model as the tool's output
    ok: bool
    ms: float
    action: ToolAction = ToolAction.CONTINUE
    prompt: str | None = None  # a canned prompt to play locally first (e.g. "handover")


class ToolBox(Protocol):
    def declarations(self) -> list[ToolSpec]:
        """The tools the model may call (name, description, JSON schema)."""
        ...

    def instructions(self) -> str:
        """Text appended to the session instructions (e.g. read back before confirming)."""
        ...

    def needs_confirmation(self, name: str) -> bool:
        """True for tools that run only after the caller's spoken yes (they read the transcript)."""
        ...

    def start_conversation(self, conversation_id: str) -> None:
        """Start a new visitor: all per-conversation state (call counts, pending
        confirmations, the latest audit record) is replaced whole."""
        ...

    async def run(self, call: ToolCall, context: ToolContext) -> ToolResult: ...

    async def close(self) -> None: ...
