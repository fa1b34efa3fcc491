"""The host of the services and report sinks: every report to each, start and close.

Report-only sinks (the timeline, the run summary, the log, a test's recorder) take
reports; services (device/services/ports.py) also run a supervised task and are closed at
exit, in reverse order, within one deadline. A sink or service whose ``report`` raises is
logged once (by name) and counted; the others still get every report, and it gets the
next ones.

Example::

    host = ServiceHost(sinks=[TimelineSink(sys.stdout), RunSummary(), LogSink()])
    host.emit(1234.0, StateChanged(State.IDLE, State.CONNECTING))
    host.start(ports, supervisor.spawn)
    await host.close()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from device.common.text import one_line
from device.conversation.reports import Report
from device.services.ports import CLOSE_DEADLINE_S, Ports, Service, Sink

log = logging.getLogger(__name__)

Spawn = Callable[..., Any]
"""``Supervisor.spawn``-like: ``spawn(name, factory, restart=True)``."""


class ServiceHost:
    def __init__(self, *, sinks: Iterable[Sink] = (), services: Iterable[Service] = ()) -> None:
        self.sinks: list[Sink] = list(sinks)
        self.services: list[Service] = list(services)
        self.failures = 0  # reports a sink or service could not take
        self._failed: set[int] = set()
        self._closed = False

    def add(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def emit(self, t_ms: float, report: Report) -> None:
        for sink in (*self.sinks, *self.services):
            try:
                sink.report(t_ms, report)
            except Exception as exc:
                self.failures += 1
                if id(sink) not in self._failed:
                    self._failed.add(id(sink))
                    log.error(
                        "report sink %s failed (%s: %s); the daemon goes on",
                        type(sink).__name__,
                        type(exc).__name__,
                        one_line(exc, 200),
                    )

    def start(self, ports: Ports, spawn: Spawn) -> None:
        """Each service's ``run`` as a supervised, restarted worker."""
        for service in self.services:
            spawn(f"service {service.name}", _runner(service, ports), restart=True)

    async def close(self, deadline_s: float = CLOSE_DEADLINE_S) -> None:
        """Close the services in reverse order; whatever is left at the deadline is dropped
        with one log line naming it."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        for service in reversed(self.services):
            left = end - loop.time()
            try:
                async with asyncio.timeout(max(0.0, left)):
                    await service.close()
            except TimeoutError:
                log.error("service %s did not close within %.1f s", service.name, deadline_s)
            except Exception as exc:
                log.error("closing service %s: %s", service.name, one_line(exc, 200))


def _runner(service: Service, ports: Ports) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        await service.run(ports)

    return run
