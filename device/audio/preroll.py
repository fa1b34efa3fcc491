"""The pre-roll ring buffer: the audio of the last ``ms`` before the gate opened (pure).

Blocks go in while the gate is closed; when it opens, ``take()`` hands out what is kept,
oldest first, and empties the ring. Each block carries the stream position of its first
sample, so callers can tell exactly which audio was sent.

The ring's storage is allocated once (``capacity_blocks`` x ``block_samples`` int16):
``push`` copies the samples into their slot, ``take`` hands out views of the slots. Those
views stay valid until the next ``push``: use (copy) them before pushing again.

Example::

    ring = PreRoll(capacity_blocks=30, block_samples=240)   # 300 ms of 10 ms at 24 kHz
    ring.push(pos, block)
    for pos, samples in ring.take(): ...
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]


class PreRoll:
    """A bounded FIFO of ``(position, samples)``; the oldest block falls out when full.

    A block may be shorter than ``block_samples`` (the tail of a split block), never longer.
    """

    def __init__(self, capacity_blocks: int, block_samples: int) -> None:
        self.capacity_blocks = max(0, capacity_blocks)
        self.block_samples = block_samples
        self._slots = np.zeros((self.capacity_blocks, block_samples), dtype=np.int16)
        self._positions = [0] * self.capacity_blocks
        self._lengths = [0] * self.capacity_blocks
        self._first = 0  # slot of the oldest block
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def n_samples(self) -> int:
        """Samples kept."""
        cap = self.capacity_blocks
        return sum(self._lengths[(self._first + i) % cap] for i in range(self._count))

    def push(self, position: int, samples: Samples) -> None:
        """Keep a copy of ``samples`` (at most ``block_samples``) that start at ``position``."""
        cap = self.capacity_blocks
        if not cap:
            return
        n = len(samples)
        if n > self.block_samples:
            raise ValueError(f"a pre-roll block holds {self.block_samples} samples, not {n}")
        if self._count == cap:  # full: the oldest falls out
            slot = self._first
            self._first = (self._first + 1) % cap
        else:
            slot = (self._first + self._count) % cap
            self._count += 1
        self._slots[slot, :n] = samples
        self._positions[slot] = position
        self._lengths[slot] = n

    def take(self) -> list[tuple[int, Samples]]:
        """Everything kept, oldest first (views valid until the next push); then empty."""
        cap = self.capacity_blocks
        out = []
        for i in range(self._count):
            slot = (self._first + i) % cap
            out.append((self._positions[slot], self._slots[slot, : self._lengths[slot]]))
        self.clear()
        return out

    def clear(self) -> None:
        self._first = 0
        self._count = 0
