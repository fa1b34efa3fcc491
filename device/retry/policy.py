"""The retry policy as data (pure): the delays, and which failures retry.

`RetryPolicy.delay_s(attempt, failure, rand)` is the whole rule; device/retry/attempts.py's
`retry()` is the one async loop that follows it. Delays are exponential with full jitter
(a uniform draw below the capped exponential), so a fleet of kiosks that lost the same
network does not come back in step. ``classify`` turns an exception into a `Classified`
failure; each kind has its own cap (a network that is down is probed often and cheaply; a
refusing server is given room; a bad key is retried slowly).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field


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
