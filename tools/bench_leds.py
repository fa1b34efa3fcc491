"""Bench: the LED service's cost and reaction time (targets: led_cpu_rtf <= 0.003,
led_state_latency_ms p95 <= 35).

- ``led_cpu_rtf``: CPU seconds per second of the LED service animating the "thinking" spin
  at 30 fps on a 12-LED APA102 ring: the loop's task, the pattern, the APA102 encoding and
  the writer thread, into a null SPI device (process CPU time over wall time, nothing else
  running; the median of 1 s windows).
  Beside it in ``led_cpu``:
  ``tight_floor_rtf``: a bare thread loop writing one cached 56-byte frame to the null SPI
  device and sleeping to the next 30 fps due time (the least any Python 30 fps animation
  costs here), its 1 s windows alternating with the service's in the same run, and
  ``vs_tight_floor`` = led_cpu_rtf / tight_floor_rtf;
  ``wake_floor_rtf``: a thread doing nothing but waking 30 times a second with a timed
  lock acquire (most of the figure on a small or busy CPU);
  ``by_pattern``: the same figure for a pulse (speaking), a double blink (handover) and a
  blink (error), one window of a whole period each, with ``by_pattern_writes_per_s``.
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
from device.leds.encode import apa102_frame
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
    State.HANDOVER: "handover",
    State.ERROR: "error",
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


BY_PATTERN = (State.SPEAKING, State.HANDOVER, State.ERROR)
"""The patterns of ``led_cpu.by_pattern``: a pulse, a double blink, a blink."""


def _tight_floor(seconds: float) -> float:
    """CPU seconds per second of the least any Python 30 fps animation can do here: a bare
    loop writing one cached APA102 frame (12 LEDs, 56 bytes) to the null SPI device and
    sleeping to the next due time (measured on the thread that runs it)."""
    write = NullSpi().writebytes2
    data = apa102_frame(((0, 255, 255),) * LEDS, 0.5)
    mono, sleep, frame_s = time.monotonic, time.sleep, 1.0 / FPS
    cpu0, wall0 = time.process_time(), mono()
    due, end = wall0, wall0 + seconds
    while due < end:
        write(data)
        due += frame_s
        wait = due - mono()
        if wait > 0:
            sleep(wait)
    return (time.process_time() - cpu0) / (mono() - wall0)


async def _cpu(windows: int) -> dict[str, Any]:
    """The service's 1 s windows alternating with the tight floor's (medians: a busy
    machine's bursts land in one window or two); then one window of each `BY_PATTERN`."""
    leds = _service()
    ports = FakePorts()
    task = asyncio.create_task(leds.run(ports))
    leds.report(ports.now_ms(), Ready(after_ms=0.0, standby=True, offline=False))
    state = State.IDLE

    def show(new: State) -> None:
        nonlocal state
        leds.report(ports.now_ms(), StateChanged(state, new))
        state = new

    async def window(seconds: float) -> tuple[float, int]:
        """(process CPU s per s over ``seconds``, frames written meanwhile)."""
        frames0 = leds.stats().frames_written
        cpu0, at = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        rtf = (time.process_time() - cpu0) / (time.monotonic() - at)
        return rtf, leds.stats().frames_written - frames0

    show(State.THINKING)
    await asyncio.sleep(1.2)  # opened, settled, every frame of a turn made and encoded once
    spins: list[float] = []
    floors: list[float] = []
    frames = 0
    wall = 0.0
    for _ in range(windows):
        show(State.THINKING)
        await asyncio.sleep(0.1)
        at = time.monotonic()
        rtf, n = await window(1.0)
        wall += time.monotonic() - at
        spins.append(rtf)
        frames += n
        show(State.IDLE)  # still and dark: the LED thread sleeps
        await asyncio.sleep(0.1)
        floors.append(await asyncio.to_thread(_tight_floor, 1.0))
    by_pattern: dict[str, float] = {}
    writes: dict[str, float] = {}
    for new in BY_PATTERN:
        show(new)
        name = PATTERN_OF[new]
        period_s = max(1.0, (leds.patterns[name].period_ms or 1000.0) / 1000.0)
        await asyncio.sleep(0.3)  # its frames made and encoded once (after the first's)
        rtf, n = await window(period_s)  # a whole period: its changes, as often as they come
        by_pattern[name] = round(rtf, 5)
        writes[name] = round(n / period_s, 1)
    stats = leds.stats()
    await leds.close()
    await asyncio.wait_for(task, 2)
    spin, floor = statistics.median(spins), statistics.median(floors)
    return {
        "led_cpu_rtf": round(spin, 5),
        "windows_max": round(max(spins), 5),
        "fps_measured": round(frames / wall, 1),
        "frames_dropped": stats.frames_dropped,
        "seconds": round(wall, 1),
        "tight_floor_rtf": round(floor, 5),
        "vs_tight_floor": round(spin / floor, 3) if floor > 0 else None,
        "by_pattern": by_pattern,
        "by_pattern_writes_per_s": writes,
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
    3 s of the spin (and 3 of the tight floor) and 20 state changes (quick), or 20 s and
    300."""
    cpu = asyncio.run(_cpu(3 if quick else 20))
    floor = _wake_floor(1.0 if quick else 10.0)
    latency = asyncio.run(_latency(20 if quick else 300, seed=27))
    return {
        "led_cpu_rtf": cpu.pop("led_cpu_rtf"),
        "led_cpu": {"fps": FPS, "leds": LEDS, **cpu, "wake_floor_rtf": round(floor, 5)},
        "led_state_latency_ms": latency,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--full" not in sys.argv)))
