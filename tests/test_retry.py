"""The one retry policy: exponential delays with full jitter, per kind of failure."""

from __future__ import annotations

import asyncio

import pytest

from device.retry.attempts import Classified, Failure, RetryGaveUp, RetryPolicy, retry

POLICY = RetryPolicy(base_s=0.25, cap_s=30.0, network_cap_s=1.0, auth_retry_s=300.0)


@pytest.mark.parametrize(
    ("attempt", "kind", "rand", "expected"),
    [
        (0, Failure.SERVER, 1.0, 0.25),
        (3, Failure.SERVER, 1.0, 2.0),
        (10, Failure.SERVER, 1.0, 30.0),  # capped
        (10, Failure.SERVER, 0.5, 15.0),  # full jitter: anywhere below the cap
        (10, Failure.NETWORK, 1.0, 1.0),  # a network that is down is probed often
        (0, Failure.AUTH, 0.3, 300.0),  # a refused key: slowly, never in a tight loop
        (0, Failure.FATAL, 0.3, None),
    ],
)
def test_delays(attempt: int, kind: Failure, rand: float, expected: float | None) -> None:
    assert POLICY.delay_s(attempt, Classified(kind), rand) == expected


def test_a_busy_server_is_given_the_time_it_asks_for() -> None:
    assert POLICY.delay_s(0, Classified(Failure.BUSY, retry_after_s=7.5), 0.1) == 7.5
    assert POLICY.delay_s(0, Classified(Failure.BUSY), 1.0) == 0.25  # no hint: back off


async def test_retry_succeeds_after_failures_and_reports_each() -> None:
    calls = 0
    seen: list[tuple[int, float | None]] = []

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionRefusedError("refused")
        return "open"

    policy = RetryPolicy(base_s=0.001, classify=lambda _e: Classified(Failure.NETWORK))
    got = await retry(attempt, policy, on_failure=lambda n, e, c, d: seen.append((n, d)))
    assert got == "open" and calls == 3 and [n for n, _ in seen] == [0, 1]


async def test_retry_gives_up_at_the_budget_and_on_what_must_not_be_retried() -> None:
    async def refused() -> None:
        raise OSError("unreachable")

    slow = RetryPolicy(base_s=5.0, classify=lambda _e: Classified(Failure.SERVER))
    with pytest.raises(RetryGaveUp) as info:
        await retry(refused, slow, budget_s=1.0, rand=lambda: 1.0)
    assert info.value.kind is Failure.SERVER and "gave up after 1 attempts" in str(info.value)
    fatal = RetryPolicy(classify=lambda _e: Classified(Failure.FATAL))
    with pytest.raises(RetryGaveUp):
        await retry(refused, fatal)


async def test_a_button_press_cuts_a_long_wait_short() -> None:
    calls = 0
    wake = asyncio.Event()

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            asyncio.get_running_loop().call_later(0.05, wake.set)
            raise PermissionError("401")
        return "open"

    auth = RetryPolicy(auth_retry_s=300.0, classify=lambda _e: Classified(Failure.AUTH))
    assert await asyncio.wait_for(retry(attempt, auth, wake=wake), 5) == "open"


async def test_hedged_starts_a_fresh_attempt_beside_one_that_hangs() -> None:
    """A pulled cable: the first attempt hangs on SYN retransmits; the second gets through."""
    from device.retry.attempts import hedged

    started: list[float] = []
    discarded: list[str] = []
    loop = asyncio.get_running_loop()
    hung = asyncio.Event()

    async def attempt() -> str:
        started.append(loop.time())
        if len(started) == 1:
            await hung.wait()  # never set: cancelled when the other wins
        return f"link {len(started)}"

    async def discard(link: str) -> None:
        discarded.append(link)

    got = await hedged(attempt, every_s=0.05, at_most=3, discard=discard)
    assert got == "link 2" and len(started) == 2
    assert 0.04 < started[1] - started[0] < 0.5
    assert discarded == []  # the hung one was cancelled, nothing to close


async def test_hedged_on_a_healthy_link_makes_one_attempt_and_failures_are_not_retried() -> None:
    from device.retry.attempts import hedged

    calls = 0

    async def quick() -> str:
        nonlocal calls
        calls += 1
        return "link"

    async def discard(_link: str) -> None:
        raise AssertionError("nothing to discard")

    assert await hedged(quick, every_s=1.0, at_most=3, discard=discard) == "link"
    assert calls == 1

    async def refused() -> str:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError("refused")

    calls = 0
    with pytest.raises(ConnectionRefusedError):
        await hedged(refused, every_s=1.0, at_most=3, discard=discard)
    assert calls == 1  # the retry loop decides when to try again, not hedged()


async def test_hedged_closes_a_second_success_and_waits_out_a_failure_beside_a_live_one() -> None:
    from device.retry.attempts import hedged

    n = 0
    discarded: list[str] = []
    gate = asyncio.Event()

    async def attempt() -> str:
        nonlocal n
        n += 1
        me = n
        if me == 1:
            await gate.wait()  # slow, then succeeds at the same time as the third
            return "link 1"
        if me == 2:
            raise OSError("no route")  # fails while the first is still in flight
        gate.set()
        return "link 3"

    async def discard(link: str) -> None:
        discarded.append(link)

    got = await hedged(attempt, every_s=0.02, at_most=3, discard=discard)
    assert got in ("link 1", "link 3") and n == 3
    assert sorted([got, *discarded]) == ["link 1", "link 3"]  # no session left open
