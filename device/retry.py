"""One retry helper, the policy as data: the delays and which failures retry.

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
import enum
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


class Failure(enum.Enum):
    NETWORK = "network"  # cannot reach the server: probe often (cheap)
    SERVER = "server"  # the server failed or closed (5xx, 1011...): back off to the cap
    BUSY = "busy"  # the server is overloaded (429, rate limits): honour its hint
    AUTH = "auth"  # the credentials were refused (401/403): slow retry
    FATAL = "fatal"  # retrying cannot help


@dataclass(frozen=True)
class Classified:
    kind: Failure
    retry_after_s: float | None = None  # the server's own hint (Retry-After, reset_seconds)


def _no_classes(_exc: BaseException) -> Classified:
    return Classified(Failure.SERVER)


@dataclass(frozen=True)
class RetryPolicy:
    """Delays per attempt and failure kind (seconds); ``classify`` maps an exception."""

    base_s: float = 0.25
    cap_s: float = 30.0
    network_cap_s: float = 1.0
    auth_retry_s: float = 300.0
    jitter: bool = True  # full jitter (fleets); off: the capped exponential itself (devices)
    classify: Callable[[BaseException], Classified] = field(default=_no_classes)

    def delay_s(self, attempt: int, failure: Classified, rand: float) -> float | None:
        """The wait before attempt ``attempt + 1`` (0-based ``attempt`` just failed), or None
        when this failure must not be retried. ``rand`` is uniform in [0, 1)."""
        match failure.kind:
            case Failure.FATAL:
                return None
            case Failure.AUTH:
                return self.auth_retry_s
            case Failure.BUSY if failure.retry_after_s is not None:
                return min(max(failure.retry_after_s, 0.0), self.cap_s * 10)
            case Failure.NETWORK:
                cap = min(self.network_cap_s, self.cap_s)
            case _:
                cap = self.cap_s
        delay = min(cap, self.base_s * (2.0 ** min(attempt, 60)))
        return rand * delay if self.jitter else delay


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
