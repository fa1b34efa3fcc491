"""The pipeline's heartbeat: what `Daemon.health()` reads, and the loop probe that feeds it.

Two stamps on the monotonic clock, each written by the thing it vouches for:

- ``mic_frame()`` by the microphone loop, once per captured frame: frames stop arriving
  when the audio thread or the device hangs;
- the loop probe (`run_probe`, a supervised task) wakes every ``PROBE_EVERY_S`` and notes
  when it ran and how late: a blocked or starved event loop stops it.

Reading them (`mic_frame_age_ms`, `probe_age_ms`) is safe from any thread: a watchdog
pinger that trusts them cannot be fooled by a timer that still fires while audio is dead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

PROBE_EVERY_S = 0.25


class Heartbeat:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._mic_at: float | None = None
        self._probe_at = clock()
        self.loop_lag_ms = 0.0

    def mic_frame(self) -> None:
        self._mic_at = self._clock()

    def mic_frame_age_ms(self) -> float | None:
        at = self._mic_at
        return None if at is None else (self._clock() - at) * 1000.0

    def probe_age_ms(self) -> float:
        return (self._clock() - self._probe_at) * 1000.0

    def probed(self, lag_ms: float) -> None:
        self._probe_at = self._clock()
        self.loop_lag_ms = lag_ms

    async def run_probe(self) -> None:
        """Forever: sleep ``PROBE_EVERY_S`` on the loop and note how late it woke."""
        loop = asyncio.get_running_loop()
        self.probed(0.0)
        while True:
            due = loop.time() + PROBE_EVERY_S
            await asyncio.sleep(PROBE_EVERY_S)
            self.probed(max(0.0, (loop.time() - due) * 1000.0))
