"""Bench: what the metrics service costs (target: metrics_overhead_rtf <= 0.001).

- ``metrics_overhead_rtf``: CPU seconds of the metrics service per second of conversation
  audio, scraped once a second: a conversation's reports (a generous 20 a second: state
  changes, turns, first audio, usage and cost, tools, barge-ins, prompts) fed to
  ``report()``, ``stats()`` taken once a second as ``run`` does, and ``/metrics`` fetched
  once a second from the real HTTP server (on this process's event loop, as in the
  daemon) over loopback by a scraper in another process, on a kept connection as
  Prometheus does (Prometheus is not the device's cost). Simulated seconds run back to
  back, with no sleep: the bench process's CPU time over simulated audio seconds (the
  bench's own work too: making the reports, its pipe to the scraper).
- ``metrics_overhead``: the parts: µs per report, ms per scrape (with the bench's own pipe
  to the scraper, ``pipe_ms``: asking for a scrape and reading its answer's size), the
  scrape's size.

    python tools/bench_metrics.py          # quick, prints JSON
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

if __package__ in (None, ""):  # run as a script: the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device.conversation.reports import (
    ConversationEnded,
    ConversationStarted,
    CostReported,
    FirstAudio,
    Interrupted,
    Outcome,
    PromptPlayed,
    Report,
    StateChanged,
    ToolReported,
    TurnEnded,
    UsageReported,
)
from device.conversation.state import State
from device.metrics.service import MetricsService
from device.metrics.settings import MetricsSettings
from device.realtime.events import Usage
from device.services.ports import Health, Stats
from device.services.triggers import Trigger

REPORTS_PER_S = 20
USAGE = Usage(1200, 300, 900, 300, 800, 250, 50, 600, 200)


def second_of_reports(n: int) -> list[Report]:
    """A generous second of a conversation's reports (``n``: its number)."""
    cycle: list[Report] = [
        StateChanged(State.LISTENING, State.THINKING),
        TurnEnded(n),
        FirstAudio(640.0 + n % 7 * 40),
        StateChanged(State.THINKING, State.SPEAKING),
        UsageReported(f"resp_{n}", "completed", None, USAGE),
        CostReported(
            "conv-1",
            f"resp_{n}",
            "gpt-realtime-2.1",
            Decimal("0.0306"),
            Decimal(n),
            "2025-06-01",
            Decimal(n),
        ),
        ToolReported("faq", "{}", True, 35.0, "", "continue"),
        Interrupted("local speech detection", n, "item", 900),
        PromptPlayed("filler", 900.0),
        StateChanged(State.SPEAKING, State.LISTENING),
    ]
    return [cycle[i % len(cycle)] for i in range(REPORTS_PER_S)]


class FakePorts:
    def __init__(self) -> None:
        self.t_ms = 0.0

    def now_ms(self) -> float:
        return self.t_ms

    def stats(self) -> Stats:
        n = int(self.t_ms / 1000)
        return Stats(state="listening", audio_sent_chunks=25 * n, reply_audio_ms=400.0 * n)

    def health(self) -> Health:
        return Health(None, 0.0, 0.0, True)

    def trigger(self, trigger: Trigger) -> None:
        pass


SCRAPER = """
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
for line in sys.stdin:
    if line.strip() == "ping":
        print(0, flush=True)
        continue
    conn.request("GET", "/metrics")
    print(len(conn.getresponse().read()), flush=True)
"""


class Scraper:
    """Prometheus, in its own process: one scrape per line asked for (awaited: the server
    answers on this loop)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, port: int) -> Scraper:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SCRAPER, str(port),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc)

    async def scrape(self, line: bytes = b"get\n") -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line)
        await self.proc.stdin.drain()
        return int(await self.proc.stdout.readline())

    async def pipe_s(self, n: int = 200) -> float:
        """CPU seconds of this process per round trip on the pipe alone (no scrape)."""
        t0 = time.process_time()
        for _ in range(n):
            await self.scrape(b"ping\n")
        return (time.process_time() - t0) / n

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        await asyncio.wait_for(self.proc.wait(), 5)


class Measured(Protocol):
    """What the bench drives (MetricsService; an older one, to compare)."""

    collector: Any

    @property
    def port(self) -> int | None: ...

    def report(self, t_ms: float, report: Report) -> None: ...

    async def run(self, ports: Any) -> None: ...

    async def close(self) -> None: ...


def new_service() -> Measured:
    return MetricsService(
        MetricsSettings(enabled=True, port=0), chunk_ms=40.0, info={"device": "bench"}
    )


async def _measure(seconds: int, make: Callable[[], Measured] = new_service) -> dict[str, Any]:
    service = make()
    ports = FakePorts()
    task = asyncio.create_task(service.run(ports))  # starts the HTTP server, then sleeps
    while service.port is None:
        await asyncio.sleep(0.01)
    scraper = await Scraper.start(service.port)
    size = await scraper.scrape()  # warm
    pipe_s = await scraper.pipe_s()
    report_s = scrape_s = 0.0
    cpu0 = time.process_time()
    service.report(0.0, ConversationStarted("conv-1", "wake word"))
    for n in range(seconds):
        ports.t_ms = n * 1000.0
        reports, stats = second_of_reports(n), ports.stats()  # the bench's, not timed
        t0 = time.process_time()
        for report in reports:
            service.report(ports.t_ms, report)
        service.collector.stats(stats)  # what run() does once a second
        t1 = time.process_time()
        size = await scraper.scrape()
        t2 = time.process_time()
        report_s += t1 - t0
        scrape_s += t2 - t1
    service.report(seconds * 1000.0, ConversationEnded("bye", None, Outcome.GOODBYE))
    cpu = time.process_time() - cpu0
    await scraper.close()
    task.cancel()
    await service.close()
    return {
        "metrics_overhead_rtf": round(cpu / seconds, 6),
        "metrics_overhead": {
            "audio_s": seconds,
            "reports_per_s": REPORTS_PER_S,
            "report_us": round(report_s / (seconds * REPORTS_PER_S) * 1e6, 2),
            "scrape_ms": round(scrape_s / seconds * 1000, 3),
            "pipe_ms": round(pipe_s * 1000, 3),
            "scrape_bytes": size,
        },
    }


def run(quick: bool) -> dict[str, Any]:
    """{"metrics_overhead_rtf": ..., "metrics_overhead": {...}}: 300 simulated seconds of a
    conversation (quick), or 3,600."""
    return asyncio.run(_measure(300 if quick else 3600))


if __name__ == "__main__":
    print(json.dumps(run(quick="--full" not in sys.argv)))
