"""The warm standby and the offline answers, against the emulator's fault switches."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker
from device.conversation import State
from device.daemon.daemon import Daemon
from device.prompts.library import PromptLibrary
from device.realtime.link import LinkError, RealtimeLink
from device.services.triggers import Trigger, TriggerAction
from tests.helpers import (
    ANSWER,
    QUESTION,
    Seen,
    connect_to,
    eventually,
    one_turn,
    settings_for,
    stopped,
    validate,
)
from tools.realtime_emulator import Emulator

START = Trigger(TriggerAction.START, "button")


@asynccontextmanager
async def serving(
    tmp_path: Path, emu: Emulator, *, connect: Any = None, **realtime: Any
) -> AsyncIterator[tuple[Daemon, Seen]]:
    base = settings_for(tmp_path, QUESTION)
    settings = dataclasses.replace(
        base,
        audio=dataclasses.replace(
            base.audio,
            input=FileInput(path=QUESTION, speed=0, tail_silence_ms=60_000),
        ),
        conversation=dataclasses.replace(base.conversation, start="on_signal"),
        realtime=dataclasses.replace(base.realtime, **realtime),
    )

    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    seen = Seen()
    daemon = Daemon(
        settings,
        mic=WavMic(settings.audio.input),
        speaker=WavSpeaker(settings.audio.output),
        connect=connect or connect_to(emu.url, settings),
        prompts=PromptLibrary.load(settings.conversation.prompts_dir),
        sinks=[seen],
        key_source="$OPENAI_API_KEY",
    )
    task = asyncio.create_task(daemon.run())
    try:
        await eventually(lambda: daemon.ready)  # running, the link's fate known
        yield daemon, seen
    finally:
        daemon.stop()
        await stopped(task, 15)


async def test_a_visitor_starts_on_the_standby_and_the_next_one_is_opened_after(
    tmp_path: Path,
) -> None:
    async with (
        Emulator(one_turn(), on_event=validate) as emu,
        serving(tmp_path, emu) as (daemon, _seen),
    ):
        await eventually(lambda: daemon.keeper.standby is not None)
        assert emu.sessions == 1  # set up before anybody came
        daemon.trigger(START)
        await eventually(lambda: daemon.summary.assistant_transcripts == [ANSWER])
        assert emu.sessions == 1  # the visitor used the standby: no handshake of their own
        daemon.trigger(Trigger(TriggerAction.END, "long press"))
        await eventually(lambda: daemon.keeper.standby is not None)
        assert emu.sessions == 2  # a fresh session for the next visitor


async def test_a_standby_found_dead_is_replaced_and_nobody_notices(tmp_path: Path) -> None:
    async with (
        Emulator(one_turn(), on_event=validate) as emu,
        serving(tmp_path, emu) as (daemon, seen),
    ):
        await eventually(lambda: daemon.keeper.standby is not None)
        assert await emu.inject({"close": 1011}) == 1
        await eventually(lambda: emu.sessions == 2 and daemon.keeper.standby is not None)
        assert daemon.engine.state is State.IDLE and seen.states() == []


async def test_without_standby_no_session_is_held_while_idle(tmp_path: Path) -> None:
    async with (
        Emulator(one_turn(), on_event=validate) as emu,
        serving(tmp_path, emu, standby=False) as (daemon, _seen),
    ):
        ready = await eventually(lambda: daemon.ready)  # the mic delivers: ready for visitors
        assert emu.sessions == 0 and not ready.standby
        daemon.trigger(START)
        await eventually(lambda: daemon.summary.assistant_transcripts == [ANSWER])
        assert emu.sessions == 1


@pytest.mark.slow
async def test_a_refused_key_is_the_error_state_with_its_source_and_a_press_retries(
    tmp_path: Path,
) -> None:
    async with Emulator(one_turn(), on_event=validate) as emu:
        emu.configure(refuse=401)
        async with serving(tmp_path, emu) as (daemon, seen):
            await eventually(lambda: daemon.engine.state is State.ERROR)
            [down] = [e for e in daemon.summary.errors if e["code"] == "link_down"]
            assert "HTTP 401" in down["message"] and "$OPENAI_API_KEY" in down["message"]
            refused = emu.refused
            await asyncio.sleep(0.5)
            assert emu.refused == refused  # no tight loop on a bad key
            emu.heal()
            daemon.trigger(START)  # a press retries at once: the visitor is served
            await eventually(lambda: daemon.summary.assistant_transcripts == [ANSWER])
            assert State.ERROR in seen.states() and "offline" not in seen.prompts()


async def test_while_offline_a_wake_hears_the_offline_prompt_and_the_next_is_served_at_once(
    tmp_path: Path,
) -> None:
    async with Emulator(one_turn(), on_event=validate) as emu:
        emu.configure(refuse=503)
        async with serving(tmp_path, emu) as (daemon, seen):
            await eventually(lambda: daemon.engine.state is State.OFFLINE)
            daemon.trigger(START)  # the link is tried at once: still refused
            await eventually(lambda: "offline" in seen.prompts())
            assert daemon.engine.state is State.OFFLINE  # no conversation without a link
            emu.heal()
            # the next visitor, before the standby's backoff is over: the press tries the
            # link at once and the visitor is served, not told "offline"
            daemon.trigger(START)
            await eventually(lambda: daemon.summary.assistant_transcripts == [ANSWER])
            assert seen.prompts().count("offline") == 1


@pytest.mark.slow
async def test_a_try_that_hangs_says_offline_within_a_second_and_the_standby_follows(
    tmp_path: Path,
) -> None:
    async with Emulator(one_turn(), on_event=validate) as emu:
        emu.configure(refuse=503)
        async with serving(tmp_path, emu) as (daemon, seen):
            await eventually(lambda: daemon.engine.state is State.OFFLINE)
            emu.configure(refuse=None, handshake_delay_ms=2500)  # a link that hangs
            t0 = asyncio.get_running_loop().time()
            daemon.trigger(START)
            await eventually(lambda: "offline" in seen.prompts(), 5)
            said_s = asyncio.get_running_loop().time() - t0
            assert 0.9 < said_s < 1.5  # not silence while the handshake hangs
            # the handshake ends after the visitor was told: the session is not lost, the
            # device is ready for the next visitor
            await eventually(lambda: daemon.keeper.standby is not None, 10)
            assert daemon.engine.state is State.IDLE


@asynccontextmanager
async def route_back_while_attempts_hang(
    tmp_path: Path, hang_s: float
) -> AsyncIterator[tuple[Daemon, Seen, Emulator]]:
    """The network goes (connections refused), then a server comes back whose handshakes
    hang (as attempts on a dropped route sit on SYN retransmits) for ``hang_s``; then new
    handshakes get through at once (the route is back), while the hung ones stay hung."""
    async with (
        Emulator(one_turn(), on_event=validate) as emu,
        serving(tmp_path, emu) as (daemon, seen),
    ):
        await eventually(lambda: daemon.keeper.standby is not None)
        port = emu.port
        await emu.stop()
        await eventually(lambda: daemon.engine.state is State.OFFLINE)
        hanging = Emulator(one_turn(), on_event=validate, port=port)
        hanging.configure(handshake_delay_ms=60_000)
        async with hanging:
            await asyncio.sleep(hang_s)  # the keeper retries within 1 s: its attempts hang
            hanging.configure(handshake_delay_ms=0)  # the route is back
            yield daemon, seen, hanging
            hanging.heal()  # let the hung handshakes end


@pytest.mark.slow
async def test_a_visitor_is_served_at_once_when_the_route_is_back_but_the_keeper_hangs(
    tmp_path: Path,
) -> None:
    """All 3 of the keeper's attempts hang: the visitor's own fresh one gets through."""
    async with route_back_while_attempts_hang(tmp_path, 3.5) as (daemon, seen, _emu):
        t0 = asyncio.get_running_loop().time()
        daemon.trigger(START)
        await eventually(lambda: daemon.engine.state is State.LISTENING, 5)
        assert asyncio.get_running_loop().time() - t0 < 0.9  # before the offline prompt
        await eventually(lambda: daemon.summary.assistant_transcripts == [ANSWER])
        assert "offline" not in seen.prompts()


@pytest.mark.slow
async def test_the_standby_comes_back_by_itself_beside_an_attempt_that_hangs(
    tmp_path: Path,
) -> None:
    async with route_back_while_attempts_hang(tmp_path, 1.2) as (daemon, _seen, _emu):
        t0 = asyncio.get_running_loop().time()
        await eventually(lambda: daemon.keeper.standby is not None, 5)
        assert daemon.engine.state is State.IDLE
        assert asyncio.get_running_loop().time() - t0 < 2.5  # not connect_timeout_s (10 s)


async def test_a_busy_service_is_said_never_silence(tmp_path: Path) -> None:
    async with Emulator(one_turn(), on_event=validate) as emu:
        emu.configure(refuse=429, retry_after_s=30)
        async with serving(tmp_path, emu) as (daemon, seen):
            await eventually(lambda: daemon.engine.state is State.OFFLINE)
            daemon.trigger(START)
            await eventually(lambda: "busy" in seen.prompts())


class RefusedWhileHeld:
    """The daemon's ``connect``: while ``refusing``, each attempt is refused as a 503 would
    be (with ``holding``, once let go: ``release``); else the emulator's link."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.refusing = True
        self.holding = False
        self.attempts = 0
        self.held = asyncio.Event()  # an attempt is under way, waiting to be let go
        self._go = asyncio.Event()

    def release(self) -> None:
        self.held.clear()
        self._go.set()
        self._go = asyncio.Event()

    async def __call__(self) -> Any:
        self.attempts += 1
        if self.refusing:
            if self.holding:
                self.held.set()
                await self._go.wait()
            raise LinkError("the server refused the connection (HTTP 503)", status=503)
        return await RealtimeLink.connect(self.url, "gpt-realtime", "test-key", timeout_s=5)


async def test_a_visitor_who_comes_while_an_attempt_is_under_way_waits_for_the_next(
    tmp_path: Path,
) -> None:
    """The standby keeper's attempt began before the server came back; a visitor comes
    while it is under way: its refusal is not theirs, the next attempt (at once) is."""
    async with Emulator(one_turn(), on_event=validate) as emu:
        link = RefusedWhileHeld(emu.url)
        async with serving(tmp_path, emu, connect=link) as (daemon, seen):
            await eventually(lambda: daemon.engine.state is State.OFFLINE)  # refused
            link.holding = True
            await eventually(lambda: link.held.is_set(), 20)  # the keeper's next attempt
            daemon.trigger(START)  # a visitor, while it is under way
            await eventually(lambda: daemon.engine.state is State.CONNECTING)
            link.refusing = False  # the server is back; the attempt under way still fails
            link.release()
            await eventually(lambda: daemon.summary.assistant_transcripts == [ANSWER])
            assert "offline" not in seen.prompts()
