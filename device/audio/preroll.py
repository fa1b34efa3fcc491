"""The pre-roll ring buffer: the audio of the last ``ms`` before the gate opened (pure).

Blocks go in while the gate is closed; when it opens, ``take()`` hands out what is kept,
oldest first, and empties the ring. Each block carries the stream position of its first
sample, so callers can tell exactly which audio was sent.

Example::

    ring = PreRoll(capacity_blocks=40)      # 400 ms of 10 ms blocks
    ring.push(pos, block)
    for pos, block in ring.take(): ...
"""

from __future__ import annotations

from collections import deque


class PreRoll:
    """A bounded FIFO of ``(position, block)``; the oldest block falls out when full."""

    def __init__(self, capacity_blocks: int) -> None:
        self.capacity_blocks = max(0, capacity_blocks)
        self._blocks: deque[tuple[int, bytes]] = deque(maxlen=self.capacity_blocks or 1)

    def __len__(self) -> int:
        return len(self._blocks) if self.capacity_blocks else 0

    @property
    def n_bytes(self) -> int:
        return sum(len(b) for _, b in self._blocks) if self.capacity_blocks else 0

    def push(self, position: int, block: bytes) -> None:
        if self.capacity_blocks:
            self._blocks.append((position, block))

    def take(self) -> list[tuple[int, bytes]]:
        """Everything kept, oldest first; the ring is empty afterwards."""
        out = list(self._blocks) if self.capacity_blocks else []
        self._blocks.clear()
        return out

    def clear(self) -> None:
        self._blocks.clear()
