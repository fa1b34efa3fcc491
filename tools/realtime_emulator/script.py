"""Where a session is in its scenario: the current turn, its next step, the latest tool output.

Pure. A turn starts when the caller's audio is committed or a user message item is created
(``new_turn``); each response of the turn then plays the turn's next step (``next_plan``):
its tool calls in order, then its reply, which repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.realtime_emulator.faults import Fault, TurnFault
from tools.realtime_emulator.scenario import Scenario, ToolCall, fill, pick_reply


@dataclass(frozen=True)
class Plan:
    """What a response says: ``text`` (spoken or written) or a ``tool_call``, and its faults
    (each with its ``at``: ``created``, an audio delta count or ``done``)."""

    text: str = ""
    tool_call: ToolCall | None = None
    faults: tuple[TurnFault, ...] = ()

    def due(self, at: str | int) -> tuple[Fault, ...]:
        """The faults that fire at ``at``."""
        return tuple(f.fault for f in self.faults if f.at == at)

    def due_before_end(self, sent: int) -> tuple[Fault, ...]:
        """Delta-count faults not fired yet after ``sent`` deltas (they fire before the end)."""
        return tuple(f.fault for f in self.faults if isinstance(f.at, int) and f.at > sent)


class Script:
    """The scenario cursor of one session. See the module docstring."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.turn = -1  # -1: before the caller's first turn (a greeting)
        self._step = 0
        self._last_output: str | None = None

    def tool_output(self, output: str) -> None:
        """The client sent a function call's output: later steps may read it as {output}."""
        self._last_output = output

    def user_text(self) -> str | None:
        """What the caller says in the current turn (the input transcript), if scripted."""
        if 0 <= self.turn < len(self.scenario.turns):
            return self.scenario.turns[self.turn].user
        return None

    def new_turn(self) -> tuple[Fault, ...]:
        """Start the next turn; its faults due at once (``fault_at: commit``)."""
        self.turn += 1
        self._step = 0
        self._last_output = None
        if not 0 <= self.turn < len(self.scenario.turns):
            return ()
        return tuple(f.fault for f in self.scenario.turns[self.turn].faults if f.at == "commit")

    def next_plan(self) -> Plan:
        """What the next response of the current turn plays."""
        sc = self.scenario
        if self.turn < 0:
            return Plan(text=sc.greeting or sc.fallback_reply)
        if self.turn >= len(sc.turns):
            return Plan(text=sc.fallback_reply)
        turn = sc.turns[self.turn]
        faults = tuple(f for f in turn.faults if f.at != "commit") if self._step == 0 else ()
        step = self._step
        self._step += 1
        if step < len(turn.tool_calls):
            return Plan(tool_call=turn.tool_calls[step], faults=faults)
        if turn.replies:
            text = pick_reply(turn.replies, self._last_output) or sc.fallback_reply
        else:
            text = fill("{output}", self._last_output) or sc.fallback_reply
        return Plan(text=text, faults=faults)
