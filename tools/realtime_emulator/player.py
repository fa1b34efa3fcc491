"""Plays one response of a session over a connection: latency, faults, then streaming.

The pure session decides what each step says; this module decides when: it waits the
configured latency, sends ``response.created``, synthesizes speech in a worker thread and
paces the audio deltas at ``stream_speed`` times real time, stopping as soon as the response
may not go on (cancelled, hung by ``stall_response``, or the socket closed). The plan's
faults fire where their ``at`` says: ``created``, after the N-th delta (or before the end
when there are fewer), or ``done``.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, Protocol

from tools.realtime_emulator.events import split_words
from tools.realtime_emulator.faults import Fault
from tools.realtime_emulator.scenario import Scenario
from tools.realtime_emulator.script import Plan
from tools.realtime_emulator.session import RealtimeSession
from tools.realtime_emulator.speech import synthesize
from tools.realtime_emulator.vad import BYTES_PER_MS


class Link(Protocol):
    """What the player needs from a connection."""

    session: RealtimeSession

    async def send(self, event: dict[str, Any]) -> None: ...

    async def fault(self, fault: Fault, *, scripted: bool = True) -> bool:
        """Apply a fault; False if the response must stop (closed, dropped, hung)."""
        ...

    def live(self, response_id: str) -> bool:
        """The response may go on."""
        ...


async def _faults(link: Link, faults: tuple[Fault, ...]) -> bool:
    for fault in faults:
        if not await link.fault(fault):
            return False
    return True


async def _send_all(link: Link, events: list[dict[str, Any]]) -> bool:
    """Send one step's events; False if there were none (the response had ended)."""
    for event in events:
        await link.send(event)
    return bool(events)


async def play(
    link: Link,
    scenario: Scenario,
    response_id: str,
    plan: Plan,
    latency_ms: int,
    created: dict[str, Any],
) -> None:
    """Run one response to its end (or until it may not go on)."""
    steps = link.session.responses
    if latency_ms > 0:
        await asyncio.sleep(latency_ms / 1000)
    await link.send(created)
    if not await _faults(link, plan.due("created")) or not link.live(response_id):
        return
    if plan.tool_call is not None:
        if not await _send_all(link, steps.function_call_start(response_id)):
            return
        if not await _faults(link, plan.due_before_end(0)) or not link.live(response_id):
            return
        events = steps.function_call_end(response_id) + steps.finish(response_id)
        if await _send_all(link, events):
            await _faults(link, plan.due("done"))
        return
    audio = steps.audio_out()
    pcm = b""
    if audio:
        pcm = await asyncio.to_thread(
            synthesize, plan.text, scenario.voice, scenario.words_per_minute
        )
    if not await _send_all(link, steps.begin_message(response_id)):
        return
    chunk = scenario.chunk_ms * BYTES_PER_MS
    count = max(1, math.ceil(len(pcm) / chunk))
    words = split_words(plan.text, count)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(count):
        if not link.live(response_id):
            return
        piece = steps.message_chunk(response_id, pcm[i * chunk : (i + 1) * chunk], words[i])
        await _send_all(link, piece)
        if not await _faults(link, plan.due(i + 1)):
            return
        if scenario.stream_speed > 0 and audio:
            due = start + (i + 1) * scenario.chunk_ms / 1000 / scenario.stream_speed
            await asyncio.sleep(max(0.0, due - loop.time()))
        else:
            await asyncio.sleep(0)
    if not await _faults(link, plan.due_before_end(count)) or not link.live(response_id):
        return
    events = steps.end_message(response_id) + steps.finish(response_id)
    if await _send_all(link, events):
        await _faults(link, plan.due("done"))
