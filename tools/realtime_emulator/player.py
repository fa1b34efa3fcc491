"""Plays one response of a session over a connection: latency, faults, then streaming.

The pure session decides what each step says; this module decides when: it waits the
configured latency, sends ``response.created``, applies the turn's faults, synthesizes speech
in a worker thread and paces the audio deltas at ``stream_speed`` times real time, stopping
as soon as the response is no longer active.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, Protocol

from tools.realtime_emulator.events import split_words
from tools.realtime_emulator.scenario import Fault, Scenario
from tools.realtime_emulator.script import Plan
from tools.realtime_emulator.session import RealtimeSession
from tools.realtime_emulator.speech import synthesize
from tools.realtime_emulator.vad import BYTES_PER_MS


class Link(Protocol):
    """What the player needs from a connection."""

    session: RealtimeSession

    async def send(self, event: dict[str, Any]) -> None: ...

    async def fault(self, fault: Fault) -> bool:
        """Apply a fault; False if the connection is gone (a drop)."""
        ...


async def play(
    link: Link,
    scenario: Scenario,
    response_id: str,
    plan: Plan,
    latency_ms: int,
    created: dict[str, Any],
) -> None:
    """Run one response to its end (or until it is cancelled)."""
    session = link.session
    steps = session.responses
    if latency_ms > 0:
        await asyncio.sleep(latency_ms / 1000)
    await link.send(created)
    for fault in plan.faults:
        if not await link.fault(fault):
            return
    if not session.is_active(response_id):
        return
    if plan.tool_call is not None:
        for event in (
            steps.function_call_start(response_id)
            + steps.function_call_end(response_id)
            + steps.finish(response_id)
        ):
            await link.send(event)
        return
    audio = steps.audio_out()
    pcm = b""
    if audio:
        pcm = await asyncio.to_thread(
            synthesize, plan.text, scenario.voice, scenario.words_per_minute
        )
    for event in steps.begin_message(response_id):
        await link.send(event)
    chunk = scenario.chunk_ms * BYTES_PER_MS
    count = max(1, math.ceil(len(pcm) / chunk))
    words = split_words(plan.text, count)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(count):
        if not session.is_active(response_id):
            return
        for event in steps.message_chunk(response_id, pcm[i * chunk : (i + 1) * chunk], words[i]):
            await link.send(event)
        if scenario.stream_speed > 0 and audio:
            due = start + (i + 1) * scenario.chunk_ms / 1000 / scenario.stream_speed
            await asyncio.sleep(max(0.0, due - loop.time()))
        else:
            await asyncio.sleep(0)
    for event in steps.end_message(response_id) + steps.finish(response_id):
        await link.send(event)
