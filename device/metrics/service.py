"""`MetricsService`: the metrics for Prometheus, the day's spend kept, a line per
conversation.

A `Service` (device/services/ports.py). ``report()`` only updates the pure `Collector`
(device/metrics/collector.py) under a lock and notes the day's spend; it returns at once.
``run(ports)`` serves the figures on ``metrics.host:port`` (device/metrics/endpoint.py: a
small HTTP server on the daemon's own loop; each scrape renders the collector's figures in
the text format, device/metrics/exposition.py), reads ``ports.stats()`` once a second
(audio in, out and dropped) and writes the day's spend to its file when it changed (in a
worker thread: an SD card may be slow). ``close()`` stops the server and writes the spend
one last time.

Each conversation ends with one log line, ``conversation conv-3 ended (goodbye): ...``,
whose figures are also journal fields (``VK_CONVERSATION``, ``VK_COST_USD``,
``VK_TOKENS_AUDIO_OUT``, ...: device/services/log_fields.py).

Example::

    metrics = MetricsService(settings.metrics, chunk_ms=40, info={"device": "kiosk-1"})
    daemon = Daemon(settings, ..., services=[metrics])
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from device.config.settings import Settings
from device.conversation.reports import CostReported, Report
from device.metrics.budget import Ledger, ledger_path, load_ledger, save_ledger
from device.metrics.collector import Collector, Visit
from device.metrics.endpoint import MetricsEndpoint
from device.metrics.exposition import Exposition
from device.metrics.settings import MetricsSettings
from device.services.log_fields import fields
from device.services.ports import Ports

log = logging.getLogger(__name__)

STATS_EVERY_S = 1.0


class MetricsService:
    """See the module docstring."""

    name = "metrics"

    def __init__(
        self,
        settings: MetricsSettings,
        *,
        chunk_ms: float,
        info: Mapping[str, str] | None = None,
        daily_budget: float | None = None,
        ledger_path: Path | None = None,
    ) -> None:
        self.settings = settings
        self.collector = Collector()
        self.lock = threading.Lock()
        self.ledger_path = ledger_path
        self.ledger: Ledger = load_ledger(ledger_path)
        self._dirty = False
        self._clock = (0.0, time.monotonic())  # (now_ms of the reports' clock, monotonic s)
        self.exposition = Exposition(
            self.collector,
            lock=self.lock,
            now_ms=self._now_ms,
            chunk_ms=chunk_ms,
            info=dict(info or {}),
            daily_budget=daily_budget,
        )
        self.endpoint = MetricsEndpoint(self.exposition.render)
        self._closed = False

    @property
    def port(self) -> int | None:
        """The port the metrics are served on (None: not serving)."""
        return self.endpoint.port

    def _now_ms(self) -> float:
        now_ms, mono = self._clock
        return now_ms + (time.monotonic() - mono) * 1000.0

    # -- the service -----------------------------------------------------------------------

    def report(self, t_ms: float, report: Report) -> None:
        with self.lock:
            visit = self.collector.take(t_ms, report)
            if isinstance(report, CostReported):
                self._dirty |= self.ledger.record(report.day, report.day_cost)
        if visit is not None:
            self._log_visit(visit)

    async def run(self, ports: Ports) -> None:
        if self.settings.enabled and self.endpoint.port is None and not self._closed:
            s = self.settings
            await self.endpoint.start(s.host, s.port)
            log.info("metrics for Prometheus on http://%s:%d/metrics", s.host, self.port)
        while not self._closed:
            stats = ports.stats()
            with self.lock:
                self.collector.stats(stats)
                self._clock = (ports.now_ms(), time.monotonic())
            if self._dirty:
                await asyncio.to_thread(self._save)
            await asyncio.sleep(STATS_EVERY_S)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.endpoint.close()
        if self._dirty:
            await asyncio.to_thread(self._save)

    # -- parts -----------------------------------------------------------------------------

    def scrape(self) -> bytes:
        """The exposition text, as a scrape would get it (tests, the bench)."""
        return self.exposition.render()

    def _save(self) -> None:
        if self.ledger_path is None:
            self._dirty = False
            return
        with self.lock:
            ledger, self._dirty = Ledger(self.ledger.days), False
        try:
            save_ledger(self.ledger_path, ledger)
        except OSError as exc:
            self._dirty = True
            log.warning("the day's spend cannot be kept in %s: %s", self.ledger_path, exc)

    def _log_visit(self, visit: Visit) -> None:
        figures = visit.fields()
        text = " ".join(
            f"{k}={v}" for k, v in figures.items() if v is not None and k != "conversation"
        )
        log.info(
            "conversation %s ended (%s): %s", visit.conversation_id, visit.outcome, text,
            extra=fields(**figures),
        )  # fmt: skip


def build_metrics_service(settings: Settings, environ: Mapping[str, str]) -> MetricsService | None:
    """The metrics service the config asks for: the port (``metrics.enabled``), or a daily
    budget whose spend must be kept across restarts; None when neither."""
    m, c = settings.metrics, settings.conversation
    if not m.enabled and c.daily_budget is None:
        return None
    info = {
        "device": settings.device.name,
        "site": settings.device.site,
        "model": settings.realtime.model,
    }
    return MetricsService(
        m,
        chunk_ms=settings.audio.upload_chunk_ms,
        info=info,
        daily_budget=c.daily_budget,
        ledger_path=ledger_path(m, environ),
    )
