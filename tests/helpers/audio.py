"""Test audio sources that are not files: a live microphone's worth of silence.

daemon = Daemon(settings, mic=LiveMic(), ...)
mic.stalled.set()  # frames stop, as when an audio thread hangs
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from device.audio.frames import AudioFrame

FRAME_MS = 20
RATE_HZ = 16000


class LiveMic:
    """A sound card's worth of silence, 20 ms frames on the wall clock, until ``stall``
    (frames stop, as when an audio thread hangs) or ``close``."""

    def __init__(self) -> None:
        self.overflows = 0
        self.stalled = asyncio.Event()
        self._closed = asyncio.Event()

    async def frames(self) -> AsyncIterator[AudioFrame]:
        t_ms = 0.0
        pcm = bytes(RATE_HZ * FRAME_MS // 1000 * 2)
        while not self._closed.is_set():
            if self.stalled.is_set():
                await self._closed.wait()
                return
            yield AudioFrame(pcm, RATE_HZ, 1, t_ms)
            t_ms += FRAME_MS
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FRAME_MS / 1000):
                    await self._closed.wait()

    async def close(self) -> None:
        self._closed.set()
