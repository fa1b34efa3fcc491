"""Soak: many visitors through one daemon and one emulator, each visit with a random fault.

One daemon serves ``visits`` conversations in a row (seeded: the same faults in the same
order each run). A visit: the fault's switches are set (some faults hit the idle standby
before the press), the button is pressed, the caller asks once (speech at 4x real time),
and the fault is injected at a random audio delta of the reply; the emulator is healed a
random 0.2-3 s after the fault. The visit ends when the daemon ends the conversation or,
once it has listened quietly for 0.5 s, with a long press. Then the daemon must be ready
for the next visitor (IDLE with a standby) by itself within ``READY_S``; if it is not, a
press is tried (a visitor arriving), which is counted.

Counted: visits; crashes (an exception out of ``daemon.run``, or a ``WorkerFailed``
report); hung visits (not ended within ``VISIT_DEADLINE_S``); visits after which the daemon
did not come back by itself; RSS growth (VmRSS), open fds and asyncio tasks at the end vs
the start (both taken idle, with the standby held, after two warm-up visits).
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device.conversation import State
from device.conversation.reports import (
    ConversationEnded,
    ConversationStarted,
    PromptPlayed,
    StateChanged,
    TurnEnded,
    WorkerFailed,
)
from tools.bench_link_rig import END, START, Rig, rig, scenario
from tools.realtime_emulator.faults import MALFORMED_KINDS

VISIT_DEADLINE_S = 30.0  # reconnect budget (10 s) + dead-link detection + the reply
READY_S = 10.0
QUIET_S = 0.5
ERROR_CODES = (
    "rate_limit_exceeded",
    "server_error",
    "session_expired",
    "invalid_api_key",
    "insufficient_quota",
    "conversation_already_has_active_response",
    "response_cancel_not_active",
)


@dataclass(frozen=True)
class Fault:
    name: str
    inject: dict[str, Any] | None = None  # mid-reply, at a random delta
    switches: dict[str, Any] = field(default_factory=dict)  # set with the injection
    idle: dict[str, Any] | None = None  # on the idle standby before the press
    press_to_recover: bool = False  # a refused key waits for a press (by design)


def menu() -> list[Fault]:
    """Every fault switch of the emulator (issue 14, item 7), plus healthy visits."""
    faults = [Fault("none"), Fault("none")]
    faults += [Fault(f"close {c}", {"close": c}) for c in (1000, 1001, 1006, 1011, 1012, 1013)]
    faults += [
        Fault("stall, pings unanswered", {"stall": {"ms": None, "pings": False}}),
        Fault("stall 1.5 s", {"stall": 1500}),
        Fault("stall_response", {"stall_response": True}),
        Fault("unknown_event", {"unknown_event": True}),
        Fault(
            "rate_limits exhausted", {"rate_limits": {"exhausted": "requests", "reset_seconds": 1}}
        ),
        Fault("expire", {"expire": True}),
    ]
    faults += [Fault(f"malformed {k}", {"malformed": k}) for k in MALFORMED_KINDS]
    faults += [Fault(f"error {c}", {"error": c}) for c in ERROR_CODES]
    faults += [
        Fault(f"close 1011, refuse {s}", {"close": 1011}, {"refuse": s}, press_to_recover=s == 401)
        for s in (401, 429, 503)
    ]
    faults += [
        Fault(f"idle: refuse {s}", idle={"refuse": s}, press_to_recover=s == 401)
        for s in (401, 429, 503)
    ]
    faults += [
        Fault("idle: slow handshake", idle={"handshake_delay_ms": 400}),
        Fault("idle: slow session.created", idle={"created_delay_ms": 400}),
        Fault("idle: standby expires", idle={}),
    ]
    return faults


def vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class Tally:
    visits: int = 0
    conversations: int = 0
    crashes: int = 0
    hung: int = 0
    not_ready_by_itself: int = 0
    stuck: int = 0
    prompts: Counter[str] = field(default_factory=Counter)
    ends: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


async def apply_idle(r: Rig, switches: dict[str, Any]) -> None:
    """Kill the standby with ``switches`` set: its replacement meets them."""
    r.emu.configure(**switches)
    if switches:
        await r.emu.inject({"close": 1011})
    else:
        await r.emu.inject({"expire": True})
    if "refuse" in switches:
        await r.wait(lambda: r.daemon.engine.state in (State.OFFLINE, State.ERROR), 10)


async def visit(r: Rig, fault: Fault, rng: random.Random, tally: Tally) -> None:
    heal_task: asyncio.Task[None] | None = None

    async def heal_later(delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        r.emu.heal()

    def inject_now() -> None:
        nonlocal heal_task
        assert fault.inject is not None
        r.emu.inject_soon(fault.inject, **fault.switches)
        heal_task = asyncio.get_running_loop().create_task(heal_later(rng.uniform(0.2, 3.0)))

    at_delta = rng.randint(1, 6)
    tally.faults[fault.name] += 1
    if fault.idle is not None:
        await apply_idle(r, fault.idle)
    mark = r.seen.mark()
    r.daemon.trigger(START)
    try:
        async with asyncio.timeout(VISIT_DEADLINE_S):
            await drive(r, mark, fault, at_delta, inject_now, tally)
    except TimeoutError:
        tally.hung += 1
        tally.notes.append(f"hung: {fault.name} in {r.daemon.engine.state.value}")
        r.daemon.trigger(END)
    finally:
        if heal_task is not None:
            heal_task.cancel()
        r.emu.heal()
    for _, rep in r.seen.reports[mark:]:
        if isinstance(rep, PromptPlayed):
            tally.prompts[rep.name] += 1
        elif isinstance(rep, ConversationEnded):
            tally.conversations += 1
            tally.ends[rep.reason.split(":")[0]] += 1
        elif isinstance(rep, WorkerFailed):
            tally.crashes += 1
            tally.notes.append(f"worker failed: {rep.name}: {rep.error}")
    await back_to_ready(r, fault, tally)


async def drive(
    r: Rig, mark: int, fault: Fault, at_delta: int, inject_now: Any, tally: Tally
) -> None:
    """Press to the end of the visit (see the module docstring)."""
    seen = r.seen
    await asyncio.sleep(0.3)
    if seen.find(lambda x: isinstance(x, ConversationStarted), mark) is None:
        return  # not started: the offline or busy prompt answered the press
    await seen.until(
        lambda x: (
            (isinstance(x, StateChanged) and x.new is State.LISTENING)
            or isinstance(x, ConversationEnded)
        ),
        mark,
    )
    r.probe.arm((lambda n: inject_now() if n == at_delta else None) if fault.inject else None)
    r.mic.say()
    loop = asyncio.get_running_loop()
    while True:
        if seen.find(lambda x: isinstance(x, ConversationEnded), mark) is not None:
            return
        turned = seen.find(lambda x: isinstance(x, TurnEnded), mark) is not None
        last = seen.reports[-1][0] if seen.reports else 0.0
        if turned and r.daemon.engine.state is State.LISTENING and loop.time() - last >= QUIET_S:
            r.daemon.trigger(END)
            await seen.until(lambda x: isinstance(x, ConversationEnded), mark)
            return
        await asyncio.sleep(0.05)


async def back_to_ready(r: Rig, fault: Fault, tally: Tally) -> None:
    try:
        await r.settle(1.0 if fault.press_to_recover else READY_S)
        return
    except TimeoutError:
        pass
    if not fault.press_to_recover:
        tally.not_ready_by_itself += 1
        tally.notes.append(f"not ready by itself: {fault.name} ({r.daemon.engine.state.value})")
    mark = r.seen.mark()
    r.daemon.trigger(START)  # somebody presses: offline prompt and a probe, or a conversation
    await asyncio.sleep(0.5)
    if r.daemon.engine.active:
        r.daemon.trigger(END)
        await r.seen.until(lambda x: isinstance(x, ConversationEnded), mark, 30)
        tally.conversations += 1
    try:
        await r.settle(READY_S)
    except TimeoutError:
        tally.stuck += 1
        tally.notes.append(f"stuck after: {fault.name} ({r.daemon.engine.state.value})")


async def quiet_counts(r: Rig) -> tuple[float, int, int]:
    await r.settle()
    await asyncio.sleep(0.5)
    await r.settle()
    gc.collect()
    return vm_rss_mb(), open_fds(), len(asyncio.all_tasks())


async def run_soak(visits: int, *, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    faults = menu()
    tally = Tally()
    crashed: str | None = None
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with rig(
        scenario("We open at nine.", stream_speed=10), continuous=False, speed=4.0, reply_stall_s=1
    ) as r:
        for _ in range(2):  # warm-up: imports, caches, first allocations
            await visit(r, Fault("none"), rng, Tally())
        rss0, fds0, tasks0 = await quiet_counts(r)
        for _ in range(visits):
            if r.task.done():
                break
            r.emu.forget()
            r.seen.forget()
            await visit(r, rng.choice(faults), rng, tally)
            tally.visits += 1
        if r.task.done() and r.task.exception() is not None:
            crashed = repr(r.task.exception())
        rss1, fds1, tasks1 = await quiet_counts(r)
        emulator_errors = [repr(e) for e in r.emu.failures]
    if crashed:
        tally.crashes += 1
        tally.notes.append(f"daemon.run raised {crashed}")
    return {
        "visits": tally.visits,
        "conversations": tally.conversations,
        "crashes": tally.crashes,
        "hung": tally.hung,
        "not_ready_by_itself": tally.not_ready_by_itself,
        "stuck": tally.stuck,
        "rss_growth_mb": round(rss1 - rss0, 2),
        "rss_mb": [round(rss0, 1), round(rss1, 1)],
        "open_fds": [fds0, fds1],
        "asyncio_tasks": [tasks0, tasks1],
        "faults": dict(tally.faults),
        "prompts": dict(tally.prompts),
        "ends": dict(tally.ends),
        "emulator_errors": emulator_errors[:5],
        "notes": tally.notes[:12],
        "seconds": round(loop.time() - t0, 1),
        "met": tally.crashes == 0
        and tally.hung == 0
        and rss1 - rss0 <= 10.0
        and fds1 <= fds0
        and tasks1 <= tasks0,
    }
