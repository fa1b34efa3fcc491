"""One retry helper, the policy as data (device/retry/policy.py): `retry()`.

The policy is pure (`RetryPolicy.delay_s(attempt, failure, rand)`); `retry()` is the one
async loop that uses it. The warm standby, the mid-conversation reconnect and device
re-opens all call `retry()` with their own policy: no copied retry loops.

Delays are exponential with full jitter (a uniform draw between 0 and the capped
exponential), so a fleet of kiosks that lost the same network does not come back in step.
A failure is classified by the policy's ``classify`` function into a `Failure`; each kind
has its own cap (a network that is down is probed often and cheaply; a refusing server is
given room; a bad key is retried slowly, or at once on a button press).

Example::

    policy = RetryPolicy(base_s=0.25, cap_s=30.0, classify=classify_link_failure)
    link = await retry(open_link, policy, budget_s=10.0)
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from device.retry.policy import Classified, Failure, RetryPolicy

__all__ = ["Classified", "Failure", "RetryGaveUp", "RetryPolicy", "hedged", "retry"]

T = TypeVar("T")


class RetryGaveUp(Exception):
    """No attempt succeeded in time; ``last`` is the final failure, ``kind`` its class."""

    def __init__(self, message: str, last: BaseException, kind: Failure) -> None:
        super().__init__(message)
        self.last = last
        self.kind = kind


async def retry(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    budget_s: float | None = None,
    on_failure: Callable[[int, BaseException, Classified, float | None], None] | None = None,
    wake: asyncio.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
) -> T:
    """Call ``attempt`` until it succeeds, waiting the policy's delays in between.

    Gives up with `RetryGaveUp` on a failure the policy does not retry, or when the next
    wait would pass ``budget_s`` (None: no budget). ``wake`` set (a button press) cuts a
    wait short. ``on_failure(n, exc, classified, delay_s)`` is told of each failure.
    """
    start = clock()
    n = 0
    while True:
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            classified = policy.classify(exc)
            delay = policy.delay_s(n, classified, rand())
            if on_failure is not None:
                on_failure(n, exc, classified, delay)
            if delay is None:
                raise RetryGaveUp(str(exc), exc, classified.kind) from exc
            if budget_s is not None and clock() - start + delay > budget_s:
                raise RetryGaveUp(
                    f"{exc} (gave up after {n + 1} attempts)", exc, classified.kind
                ) from exc
            n += 1
            await _wait(delay, wake)


async def hedged(
    attempt: Callable[[], Awaitable[T]],
    *,
    every_s: float,
    at_most: int,
    discard: Callable[[T], Awaitable[None]],
) -> T:
    """One attempt, and another beside it each ``every_s`` it has not finished (at most
    ``at_most`` in flight): the first success wins and the others are cancelled (one that
    succeeded too goes to ``discard``). Fails with the last failure once none is left.

    For a route that drops packets (a pulled cable): a connection attempt then hangs on
    its first SYN's retransmits (1 s, 3 s, 7 s...) long after the route is back; a fresh
    attempt beside it gets through at once. On a healthy link the first attempt finishes
    within ``every_s`` and is the only one.
    """
    running: set[asyncio.Future[T]] = {asyncio.ensure_future(attempt())}
    try:
        while True:
            done, _ = await asyncio.wait(
                running, timeout=every_s, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:  # still nothing: one more beside the others
                if len(running) < at_most:
                    running.add(asyncio.ensure_future(attempt()))
                continue
            running -= done
            wins = [task.result() for task in done if task.exception() is None]
            if wins:
                for extra in wins[1:]:  # finished in the same instant
                    await discard(extra)
                return wins[0]
            if not running:  # the failures are the retry loop's to judge
                failure = next(iter(done)).exception()
                assert failure is not None
                raise failure
    finally:
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(BaseException):
                await discard(await task)


async def _wait(delay_s: float, wake: asyncio.Event | None) -> None:
    if wake is None:
        await asyncio.sleep(delay_s)
        return
    try:
        async with asyncio.timeout(delay_s):
            await wake.wait()
        wake.clear()  # consumed: one press, one early attempt
    except TimeoutError:
        pass
