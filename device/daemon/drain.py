"""When `Daemon.run` returns: on ``stop()`` (a signal), or, for a file caller, once the
input has ended (or the conversation with it) and the replies have finished playing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RunOptions:
    # file input: stop once the caller's file is done, or the conversation has ended
    exit_when_input_ends: bool = False
    drain_timeout_s: float = 60.0  # after the input ends, wait at most this long for replies


async def until_done(
    options: RunOptions,
    *,
    stop: asyncio.Event,
    changed: asyncio.Event,
    finished: Callable[[], bool],
    quiet: Callable[[], bool],
    gave_up: Callable[[], None],
) -> None:
    """Return when ``stop`` is set, or (with ``exit_when_input_ends``) once ``finished()``
    and then ``quiet()`` (nothing more owed to the caller) within ``drain_timeout_s``;
    ``gave_up()`` is called when the replies did not finish in time. ``changed`` is set by
    the daemon whenever something happened worth looking again."""

    async def wait_changed(timeout_s: float | None = None) -> None:
        changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await changed.wait()

    while not stop.is_set():
        if options.exit_when_input_ends and finished():
            break
        await wait_changed()
    if stop.is_set():
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.drain_timeout_s
    while not quiet() and not stop.is_set():
        left = deadline - loop.time()
        if left <= 0:
            gave_up()
            return
        await wait_changed(min(left, 0.5))
