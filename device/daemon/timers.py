"""The engine's named timers on the loop's clock: ``SetTimer(name, delay_ms)`` later gives
``TimerFired(name)`` unless cancelled or replaced by a timer of the same name."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Timers:
    def __init__(self, fire: Callable[[str], None]) -> None:
        self._fire = fire
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def set(self, name: str, delay_ms: float) -> None:
        self.cancel(name)
        loop = asyncio.get_running_loop()
        self._handles[name] = loop.call_later(delay_ms / 1000.0, self._fired, name)

    def cancel(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def _fired(self, name: str) -> None:
        self._handles.pop(name, None)
        self._fire(name)
