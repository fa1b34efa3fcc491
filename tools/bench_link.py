"""Bench: the always-there link (issue 14), the daemon against the emulator on loopback.

Each figure is the median and p95 over repeats, on the event loop's clock (the rig:
`tools.bench_link_rig`); the defaults of ``realtime:`` apply unless a line says otherwise.

- ``wake_to_stream_ms``: ``daemon.trigger(START)`` to the first ``input_audio_buffer.append``
  the emulator receives, with the warm standby, the caller talking the whole time (speech at
  real time, so the first append goes as soon as the session is ready; the upload is cut in
  ``audio.upload_chunk_ms`` chunks, so that wait is part of it).
  ``wake_to_ready_ms`` is the part up to the conversation's LISTENING (no chunk wait);
  ``first_chunk_after_reset_ms`` the audio the capture pipeline needs after the reset each
  start does before its first chunk (measured on the pipeline alone, gate off and on).
  ``wake_to_stream_no_standby_ms``: the same with ``realtime.standby: false`` (a handshake and
  the session set-up per visitor, on loopback: a real network adds its round trips).
- ``dead_link_detect_ms``: the server stalls mid-reply (``stall: {ms: null, pings: false}``
  injected at the 3rd audio delta) to the ``link_lost`` report reaching a sink.
- ``drop_to_prompt_ms``: the link cut mid-reply (close 1006 and 1011, alternately) while the
  server refuses new sessions (HTTP 503) to the ``connection_lost`` prompt handed to the
  speaker (WAV speaker at speed 0: its first sample out). ``drop_to_restored_ms``: the same
  cut with the server healthy, to the session restored (no prompt: ``restored_prompts``
  counts any played).
- ``restore_to_ready_ms``: the link back (the server unreachable for ``unreachable_s``:
  connections refused) while the daemon is offline and idle, to ready for the next visitor
  (IDLE with a standby), by itself.
- ``restore_after_refusals_ms``: the same after ``refusal_s`` of handshake refusals (HTTP
  503: the server is there but overloaded), which the standby backs off from (exponential,
  full jitter, cap ``reconnect_cap_s``: the back-off is the point, so no target);
  ``restore_after_long_refusals_ms`` the same after 15 s of refusals (6 s with --quick).
  ``visitor_after_refusals_ms``: after the same refusals, a visitor who comes just as the
  server is healthy again (START at once) to LISTENING: the press tries the link at once.
- ``restore_after_offline_call_ms``: a call ended offline (the server
  closed it with 1000) while the server stays healthy, to ready without a press;
  ``not_ready`` counts the times it was not ready within ``not_ready_within_s``.
- ``soak``: see `tools.bench_link_soak`.

    .venv/bin/python tools/bench.py --quick --only link
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Iterator
from typing import Any

from device.audio.frames import SPEECH_RATE_HZ, AudioFrame, pcm_bytes
from device.audio.pipeline import CapturePipeline
from device.config.loader import load_settings
from device.conversation import State
from device.conversation.reports import ErrorReported, Note, PromptPlayed, StateChanged
from tools.bench_link_rig import (
    CONFIG,
    END,
    FRAME_MS,
    QUESTION,
    START,
    BenchEmulator,
    Rig,
    entered,
    rig,
    scenario,
    speech_of,
    summary,
)

SHORT = "We open at nine."
LONG = "We are open from nine in the morning to five in the afternoon, Monday to Friday."
STALL = {"stall": {"ms": None, "pings": False}}
TARGETS_P95 = {
    "wake_to_stream_ms": 50.0,
    "dead_link_detect_ms": 2000.0,
    "drop_to_prompt_ms": 2500.0,
    "restore_to_ready_ms": 1500.0,
}


def ms(a: float, b: float) -> float:
    return (b - a) * 1000.0


async def end_conversation(r: Rig) -> None:
    """A long press, then wait for the daemon to be ready for the next visitor."""
    if r.daemon.engine.active:
        mark = r.seen.mark()
        r.daemon.trigger(END)
        await r.seen.until(lambda x: type(x).__name__ == "ConversationEnded", mark)
    await r.settle()


async def wake_to_stream(
    repeats: int, standby: bool, gate: bool = True
) -> tuple[list[float], list[float]]:
    stream, ready = [], []
    async with rig(scenario(SHORT), continuous=True, gate=gate, standby=standby) as r:
        for _ in range(repeats):
            await r.settle()
            await asyncio.sleep(0.1)  # a quiet moment, as between visitors
            r.probe.arm()
            mark = r.seen.mark()
            t0 = r.loop.time()
            r.daemon.trigger(START)
            await r.wait(lambda: r.probe.first_append is not None, 10)
            assert r.probe.first_append is not None
            stream.append(ms(t0, r.probe.first_append))
            ready.append(ms(t0, await r.seen.until(entered(State.LISTENING), mark)))
            await end_conversation(r)
    return stream, ready


async def ask(r: Rig, inject: Any, at_delta: int = 3) -> int:
    """Start a conversation, let the caller ask, run ``inject()`` at the n-th reply delta."""
    mark = r.seen.mark()
    r.daemon.trigger(START)
    await r.seen.until(entered(State.LISTENING), mark)

    def on_delta(n: int) -> None:
        if n == at_delta:
            inject()

    r.probe.arm(on_delta)
    r.mic.say()
    return mark


async def dead_link_detect(repeats: int, rng: random.Random) -> list[float]:
    out = []
    async with rig(scenario(LONG), continuous=False, speed=4.0) as r:
        for _ in range(repeats):
            await r.settle()
            await asyncio.sleep(rng.uniform(0.0, 1.0))  # any phase of the 1 s ping cycle
            fired = len(r.emu.fired_at)
            mark = await ask(r, lambda: r.emu.inject_soon(STALL))
            t_lost = await r.seen.until(
                lambda x: isinstance(x, ErrorReported) and x.code == "link_lost", mark
            )
            out.append(ms(r.emu.fired_at[fired], t_lost))
            r.emu.heal()
            await end_conversation(r)
    return out


async def drop_to_prompt(repeats: int, refuse: bool) -> tuple[list[float], int]:
    """(ms to the prompt, or to the restore when not ``refuse``; prompts played)."""
    out, prompts = [], 0
    async with rig(scenario(LONG), continuous=False, speed=4.0) as r:
        for i in range(repeats):
            await r.settle()
            fired = len(r.emu.fired_at)
            cut = {"close": 1006 if i % 2 == 0 else 1011}
            switches = {"refuse": 503} if refuse else {}
            mark = await ask(r, lambda c=cut, s=switches: r.emu.inject_soon(c, **s))
            if refuse:
                t = await r.seen.until(
                    lambda x: isinstance(x, PromptPlayed) and x.name == "connection_lost", mark
                )
                r.emu.heal()
            else:
                t = await r.seen.until(
                    lambda x: isinstance(x, Note) and x.text.startswith("session restored"), mark
                )
            out.append(ms(r.emu.fired_at[fired], t))
            prompts += sum(
                1
                for _, x in r.seen.reports[mark:]
                if isinstance(x, PromptPlayed) and x.name == "connection_lost"
            )
            await r.wait(lambda: r.daemon.engine.state is not State.RECONNECTING, 30)
            await end_conversation(r)
    return out, prompts


def back_to_idle(mark: int) -> Any:
    return lambda x: isinstance(x, StateChanged) and x.old is State.OFFLINE and x.new is State.IDLE


async def refused_for(r: Rig, refusal_s: float) -> tuple[int, float]:
    """The standby dies and the server refuses new sessions (503) for ``refusal_s``; then
    it heals. Returns the report mark and the loop time of the heal."""
    await r.settle()
    r.emu.configure(refuse=503)
    await r.emu.inject({"close": 1011})  # the standby dies; its replacement is refused
    await r.wait(lambda: r.daemon.engine.state is State.OFFLINE)
    await asyncio.sleep(refusal_s)
    mark = r.seen.mark()
    t0 = r.loop.time()
    r.emu.heal()
    return mark, t0


async def restore_after_refusals(repeats: int, refusal_s: float) -> list[float]:
    out = []
    async with rig(scenario(SHORT), continuous=False) as r:
        for _ in range(repeats):
            mark, t0 = await refused_for(r, refusal_s)
            t = await r.seen.until(back_to_idle(mark), mark, timeout_s=120)
            if r.daemon.keeper.standby is None:
                raise RuntimeError("back to IDLE without a standby")
            out.append(ms(t0, t))
    return out


async def visitor_after_refusals(repeats: int, refusal_s: float) -> list[float]:
    out = []
    async with rig(scenario(SHORT), continuous=False) as r:
        for _ in range(repeats):
            mark, t0 = await refused_for(r, refusal_s)
            r.daemon.trigger(START)  # a visitor comes just as the server is healthy again
            t = await r.seen.until(entered(State.LISTENING), mark, timeout_s=10)
            out.append(ms(t0, t))
            await end_conversation(r)
    return out


async def restore_after_unreachable(repeats: int, down_s: float) -> list[float]:
    out = []
    async with rig(scenario(SHORT), continuous=False) as r:
        for _ in range(repeats):
            await r.settle()
            port = r.emu.port
            await r.emu.stop()  # the network is gone: connections refused
            await r.wait(lambda: r.daemon.engine.state is State.OFFLINE)
            await asyncio.sleep(down_s)
            mark = r.seen.mark()
            t0 = r.loop.time()
            fresh = BenchEmulator(r.emu.scenario, on_event=r.probe, port=port)
            await fresh.start()
            r.emu = fresh
            t = await r.seen.until(back_to_idle(mark), mark, timeout_s=30)
            out.append(ms(t0, t))
        await r.emu.stop()
    return out


async def restore_after_offline_call(repeats: int, wait_s: float) -> tuple[list[float], int]:
    """A call ended offline (the server closed it with 1000: not worth a new session), the
    server healthy all along: (ms to ready without a press, times not ready in ``wait_s``)."""
    out, missed = [], 0
    async with rig(scenario(LONG), continuous=False, speed=4.0) as r:
        for _ in range(repeats):
            await r.settle()
            mark = await ask(r, lambda: r.emu.inject_soon({"close": 1000}))
            t0 = await r.seen.until(entered(State.OFFLINE), mark)
            try:
                await r.wait(r.ready, wait_s)
                out.append(ms(t0, r.loop.time()))
            except TimeoutError:
                missed += 1
                pressed = r.seen.mark()
                r.daemon.trigger(START)  # the next visitor's press gets a session
                await r.seen.until(entered(State.LISTENING), pressed)
                await end_conversation(r)
    return out, missed


def first_chunk_after_reset_ms() -> dict[str, Any]:
    """Audio ms the capture pipeline needs after ``reset()`` (done at each conversation's
    start) to give its first upload chunk, the caller talking all along: with the gate off
    and on (default settings), over resets at 17 points of the speech. Pure, no clock."""
    speech, rate = speech_of(QUESTION)
    audio = load_settings(CONFIG).audio
    step = pcm_bytes(FRAME_MS, rate, 1)
    frames = [speech[i : i + step] for i in range(0, len(speech) - step, step)] * 2
    out: dict[str, Any] = {}
    for gate in (False, True):
        gate_settings = dataclasses.replace(audio.gate, enabled=gate)
        values = []
        for warm in range(20, 71, 3):
            pipe = CapturePipeline(
                rate, 1, 0, gate_settings, audio.upload_chunk_ms, upload_rate_hz=SPEECH_RATE_HZ
            )
            for pcm in frames[:warm]:
                pipe.process(AudioFrame(pcm, rate, 1, 0.0))
            pipe.reset()
            n = 1
            while not pipe.process(AudioFrame(frames[warm + n - 1], rate, 1, 0.0)):
                n += 1
            values.append(float(n * FRAME_MS))
        out["gate_on" if gate else "gate_off"] = summary(values)
    return out


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """The daemon's and the emulator's log lines off while measuring (faults are on purpose)."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def latency(quick: bool) -> dict[str, Any]:
    """The latency figures (the ``link`` section of tools/bench.py)."""
    n = 12 if quick else 40  # a p95 of 6 repeats is their max: too few
    few = 4 if quick else 20
    slow = 2 if quick else 20  # the repeats that wait out a refusal period
    refusal_s = 3.0
    long_refusal_s = 6.0 if quick else 15.0  # the key says which (refusal_s)
    offline_wait_s = 5.0

    async def run() -> dict[str, Any]:
        stream, ready = await wake_to_stream(n, standby=True)
        stream_cold, ready_cold = await wake_to_stream(few, standby=False)
        dead = await dead_link_detect(few, random.Random(14))
        prompt, _ = await drop_to_prompt(few, refuse=True)
        restored, restored_prompts = await drop_to_prompt(few, refuse=False)
        refused = await restore_after_refusals(slow, refusal_s)
        refused_long = await restore_after_refusals(1 if quick else 8, long_refusal_s)
        network = await restore_after_unreachable(slow, refusal_s)
        visitor = await visitor_after_refusals(slow, refusal_s)
        after_call, missed = await restore_after_offline_call(2 if quick else 5, offline_wait_s)
        return {
            "wake_to_stream_ms": summary(stream, TARGETS_P95["wake_to_stream_ms"]),
            "wake_to_ready_ms": summary(ready),
            "first_chunk_after_reset_ms": first_chunk_after_reset_ms(),
            "wake_to_stream_no_standby_ms": summary(stream_cold),
            "wake_to_ready_no_standby_ms": summary(ready_cold),
            "dead_link_detect_ms": summary(dead, TARGETS_P95["dead_link_detect_ms"]),
            "drop_to_prompt_ms": summary(prompt, TARGETS_P95["drop_to_prompt_ms"]),
            "drop_to_restored_ms": {**summary(restored), "restored_prompts": restored_prompts},
            "restore_to_ready_ms": {
                **summary(network, TARGETS_P95["restore_to_ready_ms"]),
                "unreachable_s": refusal_s,
            },
            "restore_after_refusals_ms": {**summary(refused), "refusal_s": refusal_s},
            "restore_after_long_refusals_ms": {
                **summary(refused_long),
                "refusal_s": long_refusal_s,
            },
            "visitor_after_refusals_ms": {
                **summary(visitor, TARGETS_P95["restore_to_ready_ms"]),
                "refusal_s": refusal_s,
            },
            "restore_after_offline_call_ms": {
                **summary(after_call),
                "not_ready_within_s": offline_wait_s,
                "not_ready": missed,
            },
        }

    start = time.monotonic()
    with quiet_logs():
        result = asyncio.run(run())
    result["link_bench_s"] = round(time.monotonic() - start, 1)
    result["link_targets_met"] = {
        key: result[key]["met"] for key in TARGETS_P95 if "met" in result[key]
    }
    result["link_targets_met"]["visitor_after_refusals_ms"] = result["visitor_after_refusals_ms"][
        "met"
    ]
    return result


def soak(quick: bool) -> dict[str, Any]:
    """The soak figures (the ``link_soak`` section of tools/bench.py)."""
    from tools.bench_link_soak import run_soak

    with quiet_logs():
        return {"soak": asyncio.run(run_soak(5 if quick else 200, seed=14))}
