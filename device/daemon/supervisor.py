"""One supervisor for the daemon's workers: nothing fails silently.

Long-lived workers (``restart=True``: the sender, the microphone) that raise are reported
and started again, at most ``max_restarts`` times in ``window_s``; beyond that the daemon
is told to stop with a clear line (``on_fatal``), so systemd can restart it. One-shot tasks
(a tool run, opening the link, waiting for playback) that raise are reported and their
``on_error`` hook turns the failure into an event the engine understands (a lost link, a
failed tool), so no conversation is left waiting for an answer that will never come.

Example::

    sup = Supervisor(on_failure=report, on_fatal=daemon.fail)
    sup.spawn("sender", send_loop, restart=True)
    sup.spawn("tool faq", lambda: run_tool(call), on_error=lambda exc: tool_failed(call, exc))
    await sup.close()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

WorkerFactory = Callable[[], Coroutine[Any, Any, None]]
Spawn = Callable[..., Any]
"""``Supervisor.spawn``, as the daemon's parts receive it."""


class Supervisor:
    def __init__(
        self,
        *,
        on_failure: Callable[[str, BaseException, bool], None],
        on_fatal: Callable[[str], None],
        max_restarts: int = 5,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_failure = on_failure
        self._on_fatal = on_fatal
        self._max_restarts = max_restarts
        self._window_s = window_s
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._restarts: dict[str, deque[float]] = {}
        self._closing = False
        self.failures = 0  # workers and tasks that raised
        self._workers: dict[str, str] = {}  # long-lived worker -> running / restarting / failed

    @property
    def running(self) -> int:
        return len(self._tasks)

    def worker_states(self) -> dict[str, str]:
        """Each long-lived worker (``restart=True``) by name: running, restarting or failed."""
        return dict(self._workers)

    def spawn(
        self,
        name: str,
        factory: WorkerFactory,
        *,
        restart: bool = False,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> asyncio.Task[None]:
        """Run ``factory()`` as a task named ``name`` (see the module docstring)."""
        task = asyncio.get_running_loop().create_task(
            self._guard(name, factory, restart, on_error), name=name
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(
        self,
        name: str,
        factory: WorkerFactory,
        restart: bool,
        on_error: Callable[[BaseException], None] | None,
    ) -> None:
        while True:
            if restart:
                self._workers[name] = "running"
            try:
                await factory()
                if restart:
                    self._workers[name] = "done"
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                again = restart and not self._closing and self._may_restart(name)
                if restart:
                    self._workers[name] = "restarting" if again else "failed"
                self._on_failure(name, exc, again)
                if on_error is not None:
                    try:
                        on_error(exc)
                    except Exception as hook_exc:  # the hook itself must not go silent
                        log.error("%s: error handler failed: %r", name, hook_exc)
                if again:
                    continue
                if restart and not self._closing:
                    self._on_fatal(f"{name} failed {self._max_restarts + 1} times")
                return

    def _may_restart(self, name: str) -> bool:
        now = self._clock()
        recent = self._restarts.setdefault(name, deque())
        while recent and now - recent[0] > self._window_s:
            recent.popleft()
        if len(recent) >= self._max_restarts:
            return False
        recent.append(now)
        return True

    async def close(self, timeout_s: float = 5.0) -> None:
        """Cancel every task and wait for them (at most ``timeout_s``)."""
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
