"""Bench: the LED service's cost and reaction time (targets: led_cpu_rtf <= 0.003,
led_state_latency_ms p95 <= 35).

- ``led_cpu_rtf``: CPU seconds per second of the LED service animating a spin at 30 fps on
  a 12-LED APA102 ring: the loop's task, the pattern, the APA102 encoding and the writer
  thread, into a null SPI device (process CPU time over wall time, nothing else running;
  the median of 1 s windows).
  ``led_cpu.wake_floor_rtf`` beside it: a thread doing nothing but waking 30 times a second
  on the same machine (most of the figure on a small or busy CPU).
- ``led_state_latency_ms``: from ``report(StateChanged)`` to the first frame of the new
  pattern written to the device (its writer thread's clock), over state changes at random
  moments between frames.

    python tools/bench_leds.py          # quick, prints JSON
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device.conversation.reports import Ready, StateChanged
from device.conversation.state import State
from device.leds.service import LedService
from device.leds.settings import LedSettings
from device.leds.spi import Apa102Driver
from tests.leds.fakes import FakePorts  # the LED service reads only the ports' clock

FPS = 30
LEDS = 12
CYCLE = (State.THINKING, State.SPEAKING, State.TOOL, State.LISTENING, State.RECONNECTING)
PATTERN_OF = {
    State.THINKING: "thinking",
    State.SPEAKING: "speaking",
    State.TOOL: "tool",
    State.LISTENING: "listening",
    State.RECONNECTING: "reconnecting",
}


class NullSpi:
    """spidev's surface, writing nowhere."""

    mode = 0
    max_speed_hz = 0

    def open(self, bus: int, device: int) -> None:
        pass

    def writebytes2(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def _service(on_written: Any = None) -> LedService:
    settings = LedSettings(driver="apa102", led_count=LEDS, fps=FPS)
    driver = Apa102Driver(led_count=LEDS, spi=NullSpi())
    return LedService(settings, driver, on_written=on_written)


@contextlib.contextmanager
def spinning_ring() -> Iterator[LedService]:
    """A 12-LED APA102 ring spinning at 30 fps for as long as the ``with`` lasts, on a
    loop and threads of its own (the vad bench runs beside it: ``--with-leds``)."""
    leds = _service()
    ports = FakePorts()
    started = threading.Event()
    stop: asyncio.Future[None] | None = None

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(leds.run(ports))
        leds.report(ports.now_ms(), Ready(after_ms=0.0, standby=True, offline=False))
        leds.report(ports.now_ms(), StateChanged(State.IDLE, State.THINKING))
        started.set()
        await stop
        await leds.close()
        task.cancel()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="bench leds")
    thread.start()
    started.wait(5)
    try:
        yield leds
    finally:
        loop_stop = stop
        if loop_stop is not None:
            loop_stop.get_loop().call_soon_threadsafe(loop_stop.set_result, None)
        thread.join(5)


async def _cpu(seconds: float) -> dict[str, Any]:
    """The median over 1 s windows (a busy machine's bursts land in one window or two)."""
    leds = _service()
    ports = FakePorts()
    task = asyncio.create_task(leds.run(ports))
    leds.report(ports.now_ms(), Ready(after_ms=0.0, standby=True, offline=False))
    leds.report(ports.now_ms(), StateChanged(State.IDLE, State.THINKING))
    await asyncio.sleep(0.5)  # opened, settled
    frames0 = leds.stats().frames_written
    windows: list[float] = []
    wall0 = time.monotonic()
    for _ in range(max(1, round(seconds))):
        cpu0, at = time.process_time(), time.monotonic()
        await asyncio.sleep(1.0)
        windows.append((time.process_time() - cpu0) / (time.monotonic() - at))
    wall = time.monotonic() - wall0
    stats = leds.stats()
    await leds.close()
    await asyncio.wait_for(task, 2)
    return {
        "led_cpu_rtf": round(statistics.median(windows), 5),
        "windows_max": round(max(windows), 5),
        "fps_measured": round((stats.frames_written - frames0) / wall, 1),
        "frames_dropped": stats.frames_dropped,
        "seconds": round(wall, 1),
    }


def _wake_floor(seconds: float) -> float:
    """CPU seconds per second of a thread that only wakes 30 times a second (nothing
    else): what any 30 fps animation pays on this machine before it does anything."""
    import threading

    lock = threading.Lock()
    lock.acquire()

    def wake() -> None:
        start = due = time.monotonic()
        while time.monotonic() - start < seconds:
            due += 1.0 / FPS
            lock.acquire(timeout=max(0.0, due - time.monotonic()))

    cpu0, wall0 = time.process_time(), time.monotonic()
    thread = threading.Thread(target=wake)
    thread.start()
    thread.join()
    return (time.process_time() - cpu0) / (time.monotonic() - wall0)


async def _latency(changes: int, seed: int) -> dict[str, Any]:
    rand = random.Random(seed)
    written: list[tuple[str, float]] = []
    leds = _service(on_written=lambda frame, at: written.append((frame.name, at)))
    ports = FakePorts()
    task = asyncio.create_task(leds.run(ports))
    leds.report(ports.now_ms(), Ready(after_ms=0.0, standby=True, offline=False))
    await asyncio.sleep(0.3)
    latencies: list[float] = []
    old = State.IDLE
    for n in range(changes):
        new = CYCLE[n % len(CYCLE)]
        await asyncio.sleep(rand.uniform(0.08, 0.2))  # a random moment between frames
        mark = len(written)
        at = time.monotonic()
        leds.report(ports.now_ms(), StateChanged(old, new))
        old = new
        name = PATTERN_OF[new]
        deadline = at + 1.0
        while time.monotonic() < deadline:
            hit = next((t for f, t in written[mark:] if f == name), None)
            if hit is not None:
                latencies.append((hit - at) * 1000.0)
                break
            await asyncio.sleep(0.001)
        else:
            latencies.append(1000.0)
    await leds.close()
    await asyncio.wait_for(task, 2)
    ordered = sorted(latencies)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 2),
        "max": round(ordered[-1], 2),
        "changes": len(ordered),
    }


def run(quick: bool) -> dict[str, Any]:
    """{"led_cpu_rtf": ..., "led_cpu": {...}, "led_state_latency_ms": {"p50", "p95", ...}}:
    3 s of animation and 30 state changes (quick), or 20 s and 300."""
    cpu = asyncio.run(_cpu(3.0 if quick else 20.0))
    floor = _wake_floor(2.0 if quick else 10.0)
    latency = asyncio.run(_latency(30 if quick else 300, seed=27))
    return {
        "led_cpu_rtf": cpu.pop("led_cpu_rtf"),
        "led_cpu": {"fps": FPS, "leds": LEDS, **cpu, "wake_floor_rtf": round(floor, 5)},
        "led_state_latency_ms": latency,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--full" not in sys.argv)))
