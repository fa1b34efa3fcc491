"""Push-to-talk on a MockFactory pin and the wake word, through the whole daemon."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from device.app import Daemon
from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker
from device.buttons.gpio import GpioButton
from device.conversation import State
from device.realtime.link import RealtimeLink
from tests.test_daemon import DEMO_AUDIO, KEY, settings_for, validate
from tools.realtime_emulator import Emulator, Scenario

ASKED = "What are your opening hours?"
ANSWER = "We open at nine."


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()
    Device.pin_factory = None


async def wait_for(cond: Any, timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(0.01)


@asynccontextmanager
async def with_button(
    tmp_path: Path, emu: Emulator, factory: MockFactory, **button: Any
) -> AsyncIterator[tuple[Daemon, Any]]:
    base = settings_for(tmp_path, DEMO_AUDIO / "question.wav")
    settings = dataclasses.replace(
        base,
        audio=dataclasses.replace(
            base.audio,  # a caller who speaks on the wall clock, over and over
            input=FileInput(
                path=DEMO_AUDIO / "question.wav",
                speed=1.0,
                tail_silence_ms=60_000,
                caller="timeline",
            ),
        ),
        conversation=dataclasses.replace(base.conversation, start="on_signal"),
        button=dataclasses.replace(base.button, enabled=True, **button),
    )

    async def connect() -> RealtimeLink:
        return await RealtimeLink.connect(emu.url, settings.realtime.model, KEY, timeout_s=5)

    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    holder: dict[str, Daemon] = {}
    button = GpioButton(
        settings.button, lambda e, t: holder["d"].on_button(e, t), pin_factory=factory
    )
    daemon = Daemon(
        settings,
        mic=WavMic(settings.audio.input),
        speaker=WavSpeaker(settings.audio.output),
        connect=connect,
        button=button,
    )
    holder["d"] = daemon
    task = asyncio.create_task(daemon.run())
    try:
        await wait_for(lambda: daemon._links is not None and daemon._manager().standby)
        yield daemon, button.pin
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 15)


def scenario() -> Scenario:
    return Scenario.from_dict({"turns": [{"user": ASKED, "reply": ANSWER}]})


async def test_hold_to_talk_the_device_ends_the_turn_on_release(
    tmp_path: Path, factory: MockFactory
) -> None:
    async with (
        Emulator(scenario(), on_event=validate) as emu,
        with_button(tmp_path, emu, factory) as (daemon, pin),
    ):
        pin.drive_low()  # pressed (pull-up wiring)
        await wait_for(lambda: daemon.engine.visitor.talking)
        # the whole question, then a breath of silence, uploaded while held
        await wait_for(lambda: emu.audio_received_ms > 3500)
        pin.drive_high()  # released
        await wait_for(lambda: daemon.summary.assistant_transcripts == [ANSWER])
    sent = [e["type"] for e in emu.received]
    updates = [e for e in emu.received if e["type"] == "session.update"]
    # the server's turn detection was off while the button was held, and back after
    assert updates[1]["session"]["audio"]["input"]["turn_detection"] is None
    assert updates[2]["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    commit = sent.index("input_audio_buffer.commit")
    assert "response.create" in sent[commit:]


async def test_a_short_press_is_ignored_and_a_long_press_ends_the_conversation(
    tmp_path: Path, factory: MockFactory
) -> None:
    async with (
        Emulator(scenario(), on_event=validate) as emu,
        with_button(tmp_path, emu, factory, mode="toggle", hold_time_s=0.6) as (daemon, pin),
    ):
        pin.drive_low()
        pin.drive_high()  # far shorter than 100 ms: nothing at all
        pin.drive_low()
        await asyncio.sleep(0.15)  # a real press
        pin.drive_high()  # toggle: the release starts the turn
        await wait_for(lambda: daemon.engine.visitor.talking)
        assert daemon.summary.conversations == 0 and daemon.engine.turns == 0
        pin.drive_low()  # held past hold_time: the conversation ends
        await wait_for(lambda: daemon.engine.state is State.IDLE)
        pin.drive_high()
    assert daemon.summary.conversations == 1  # one, from the real press only
    assert "input_audio_buffer.commit" not in [e["type"] for e in emu.received]
