"""The tool desk: the model's tool calls of one visitor, from the call to the output sent.

A small pure machine of one visitor (device/conversation/visitor.py). It keeps the books;
the engine runs the calls (``RunTool``), answers the model and decides the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from device.conversation.reports import ToolReported
from device.tools.base import ToolCall, ToolResult


@dataclass(frozen=True, slots=True)
class Finished:
    """A call taken off the desk: the ``call``, the ``response_id`` that made it, and
    ``asked_at_ms``, when the model asked for it."""

    call: ToolCall
    response_id: str
    asked_at_ms: float


class ToolDesk:
    """Pending tool calls, the ones held for the caller's words, and when each was asked.

    Contract for the engine:

    - a call arrives: ``called(call, response_id, now_ms)``; a confirm tool whose check
      reads the caller's yes from the transcript, while those words are still to come, is
      ``hold(call)`` (it runs later), any other call runs at once;
    - the words came (or will not): ``release()`` gives the held calls still pending, to run
      (``holding`` says whether any is held);
    - a call finished: ``finish(call_id, now_ms)`` takes it off (None: not pending, e.g. a
      late result of a dropped session); ``busy`` while any call is pending;
    - the session's work is dropped: ``drop_all()`` gives the ids of the calls dropped and
      whether any was held.

    Example::

        desk = ToolDesk()
        desk.called(ToolCall("call_1", "job_status", "{}"), "resp_1", now_ms=2800.0)
        done = desk.finish("call_1", now_ms=3000.0)  # Finished(..., asked_at_ms=2800.0)
    """

    def __init__(self) -> None:
        self._pending: dict[str, ToolCall] = {}
        self._held: list[ToolCall] = []  # confirm tools awaiting the caller's words
        self._response: dict[str, str] = {}  # call_id -> response that made the call
        self._asked_at_ms: dict[str, float] = {}  # call_id -> asked when

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    @property
    def pending(self) -> Mapping[str, ToolCall]:
        return MappingProxyType(self._pending)

    @property
    def held(self) -> tuple[ToolCall, ...]:
        return tuple(self._held)

    @property
    def holding(self) -> bool:
        return bool(self._held)

    @property
    def call_response(self) -> Mapping[str, str]:
        """call_id -> the response that made the call (for calls not finished)."""
        return MappingProxyType(self._response)

    def is_pending(self, call_id: str) -> bool:
        return call_id in self._pending

    def called(self, call: ToolCall, response_id: str, now_ms: float) -> None:
        self._pending[call.call_id] = call
        self._response[call.call_id] = response_id
        self._asked_at_ms[call.call_id] = now_ms

    def hold(self, call: ToolCall) -> None:
        self._held.append(call)

    def release(self) -> list[ToolCall]:
        """The held calls still pending, to run now; none is held after."""
        held, self._held = self._held, []
        return [call for call in held if call.call_id in self._pending]

    def finish(self, call_id: str, now_ms: float) -> Finished | None:
        call = self._pending.pop(call_id, None)
        if call is None:
            return None
        response_id = self._response.pop(call_id, "")
        return Finished(call, response_id, self._asked_at_ms.pop(call_id, now_ms))

    def drop_all(self) -> tuple[list[str], bool]:
        """Forget every pending and held call: (the ids dropped, whether any was held)."""
        dropped, had_held = list(self._pending), bool(self._held)
        self._pending.clear()
        self._held.clear()
        return dropped, had_held


def tool_report(call: ToolCall, result: ToolResult) -> ToolReported:
    """The report of a finished call, for the sinks."""
    return ToolReported(
        name=call.name,
        arguments=call.arguments,
        ok=result.ok,
        ms=round(result.ms, 1),
        output=result.output,
        action=result.action.value,
    )
