"""Mute: the switch (gpiozero's MockFactory) or SIGUSR2 ends a conversation with a short
prompt, nothing is uploaded and nobody can start one while muted, the LEDs show it, and it
is in stats() and the run summary."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import signal
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from device.audio.wav import WavSpeaker
from device.buttons.mute_switch import MuteSwitch
from device.buttons.settings import MuteSwitchSettings
from device.config.settings import Settings
from device.conversation.reports import ConversationEnded, MuteChanged, Outcome, PromptPlayed
from device.conversation.state import State
from device.daemon.daemon import Daemon
from device.daemon.inbox import Inbox
from device.leds.factory import build_led_service
from device.leds.settings import LedSettings
from device.prompts.library import PromptLibrary
from device.services.triggers import Trigger, TriggerAction
from tests.helpers import (
    Seen,
    connect_to,
    eventually,
    live_settings,
    one_turn,
    stopped,
    validate,
)
from tests.helpers.audio import LiveMic
from tools.realtime_emulator import Emulator

pytestmark = pytest.mark.slow


def kiosk_settings(tmp_path: Path) -> Settings:
    return dataclasses.replace(live_settings(tmp_path), leds=LedSettings(driver="terminal"))


async def test_the_mute_switch_ends_a_conversation_and_blocks_the_next_until_unmuted(
    tmp_path: Path,
) -> None:
    settings = kiosk_settings(tmp_path)
    factory = MockFactory()
    inbox = Inbox()

    def changed(muted: bool) -> None:
        inbox.trigger(Trigger(TriggerAction.MUTE if muted else TriggerAction.UNMUTE, "switch"))

    switch = MuteSwitch(MuteSwitchSettings(enabled=True, pin=27), changed, pin_factory=factory)
    ring = io.StringIO()
    leds = build_led_service(settings.leds, out=ring)
    assert leds is not None
    seen = Seen()
    assert settings.audio.output.type == "file"
    async with Emulator(one_turn(), on_event=validate) as emu:
        daemon = Daemon(
            settings,
            mic=LiveMic(),
            speaker=WavSpeaker(settings.audio.output),
            connect=connect_to(emu.url, settings),
            prompts=PromptLibrary.load(None),
            inbox=inbox,
            mute_switch=switch,
            services=[leds],
            sinks=[seen],
        )
        task = asyncio.create_task(daemon.run())
        await eventually(lambda: daemon.ready is not None, task=task)
        daemon.trigger(Trigger(TriggerAction.START, "button"))
        await eventually(lambda: daemon.engine.state is State.LISTENING, task=task)

        switch.pin.drive_low()  # closed: muted
        ended = await eventually(
            lambda: [r for r in seen.reports if isinstance(r, ConversationEnded)], task=task
        )
        assert ended[0].outcome is Outcome.MUTED
        assert [r.name for r in seen.reports if isinstance(r, PromptPlayed)] == ["muted"]
        assert daemon.stats().muted and daemon.stats().outcomes == {"muted": 1}
        await eventually(lambda: "muted" in ring.getvalue(), what="the muted pattern")

        sent = daemon.stats().audio_sent_chunks
        daemon.trigger(Trigger(TriggerAction.START, "button"))  # nobody can start one
        await eventually(lambda: any("muted: not starting" in str(r) for r in seen.reports))
        assert daemon.engine.state is State.IDLE and daemon.stats().conversations == 1
        assert daemon.stats().audio_sent_chunks == sent

        switch.pin.drive_high()  # open: unmuted, back to idle
        await eventually(lambda: not daemon.stats().muted, task=task)
        daemon.trigger(Trigger(TriggerAction.START, "button"))
        await eventually(lambda: daemon.engine.state is State.LISTENING, task=task)
        daemon.stop()
        summary = await stopped(task)
    assert [(r.muted, r.source) for r in seen.reports if isinstance(r, MuteChanged)] == [
        (True, "switch"),
        (False, "switch"),
    ]
    assert summary.mute_changes == 2 and not summary.muted
    assert "stopped" in ring.getvalue().splitlines()[-1]  # the LEDs at exit


async def test_sigusr2_mutes_and_unmutes_and_a_switch_closed_at_start_mutes_at_once(
    tmp_path: Path,
) -> None:
    settings = kiosk_settings(tmp_path)
    factory = MockFactory()
    switch = MuteSwitch(MuteSwitchSettings(enabled=True), lambda _m: None, pin_factory=factory)
    switch.pin.drive_low()  # the kiosk was left muted
    seen = Seen()
    async with Emulator(one_turn(), on_event=validate) as emu:
        daemon = Daemon(
            settings,
            mic=LiveMic(),
            speaker=WavSpeaker(settings.audio.output),  # type: ignore[arg-type]
            connect=connect_to(emu.url, settings),
            mute_switch=switch,
            sinks=[seen],
        )
        task = asyncio.create_task(daemon.run())
        await eventually(lambda: daemon.stats().muted, task=task)
        os.kill(os.getpid(), signal.SIGUSR2)
        await eventually(lambda: not daemon.stats().muted, task=task)
        os.kill(os.getpid(), signal.SIGUSR2)
        await eventually(lambda: daemon.stats().muted, task=task)
        daemon.stop()
        await stopped(task)
    sources = [r.source for r in seen.reports if isinstance(r, MuteChanged)]
    assert sources == ["mute switch", "SIGUSR2", "SIGUSR2"]
