"""Push-to-talk on a MockFactory pin and the wake word, through the whole daemon."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker
from device.buttons.gpio import GpioButton
from device.conversation import State
from device.conversation.reports import ConversationStarted, Interrupted, ReplyPaused
from device.daemon.daemon import Daemon
from device.daemon.inbox import Inbox
from tests.helpers import (
    ANSWER,
    DEMO_AUDIO,
    QUESTION,
    Seen,
    connect_to,
    espeak_wav,
    eventually,
    joined_wavs,
    one_turn,
    settings_for,
    silence_wav,
    stopped,
    validate,
)
from tools.realtime_emulator import Emulator


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()
    Device.pin_factory = None


@asynccontextmanager
async def with_button(
    tmp_path: Path, emu: Emulator, factory: MockFactory, **button: Any
) -> AsyncIterator[tuple[Daemon, Any]]:
    base = settings_for(tmp_path, QUESTION)
    settings = dataclasses.replace(
        base,
        audio=dataclasses.replace(
            base.audio,  # a caller who speaks on the wall clock, over and over
            input=FileInput(
                path=QUESTION,
                speed=1.0,
                tail_silence_ms=60_000,
                caller="timeline",
            ),
        ),
        conversation=dataclasses.replace(base.conversation, start="on_signal"),
        button=dataclasses.replace(base.button, enabled=True, **button),
    )

    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    inbox = Inbox()
    gpio = GpioButton(settings.button, inbox.button_event, pin_factory=factory)
    daemon = Daemon(
        settings,
        mic=WavMic(settings.audio.input),
        speaker=WavSpeaker(settings.audio.output),
        connect=connect_to(emu.url, settings),
        inbox=inbox,
        button=gpio,
    )
    task = asyncio.create_task(daemon.run())
    try:
        await eventually(lambda: daemon.keeper.standby)
        yield daemon, gpio.pin
    finally:
        daemon.stop()
        await stopped(task, 15)


@pytest.mark.slow
async def test_hold_to_talk_the_device_ends_the_turn_on_release(
    tmp_path: Path, factory: MockFactory
) -> None:
    async with (
        Emulator(one_turn(), on_event=validate) as emu,
        with_button(tmp_path, emu, factory) as (daemon, pin),
    ):
        pin.drive_low()  # pressed (pull-up wiring)
        await eventually(lambda: daemon.engine.visitor.talking)
        # the whole question, then a breath of silence, uploaded while held
        await eventually(lambda: emu.audio_received_ms > 3500)
        pin.drive_high()  # released
        await eventually(lambda: daemon.summary.assistant_transcripts == [ANSWER])
    sent = [e["type"] for e in emu.received]
    updates = [e for e in emu.received if e["type"] == "session.update"]
    # the server's turn detection was off while the button was held, and back after
    assert updates[1]["session"]["audio"]["input"]["turn_detection"] is None
    assert updates[2]["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    commit = sent.index("input_audio_buffer.commit")
    assert "response.create" in sent[commit:]


@pytest.mark.slow
async def test_a_short_press_is_ignored_and_a_long_press_ends_the_conversation(
    tmp_path: Path, factory: MockFactory
) -> None:
    async with (
        Emulator(one_turn(), on_event=validate) as emu,
        with_button(tmp_path, emu, factory, mode="toggle", hold_time_s=0.6) as (daemon, pin),
    ):
        pin.drive_low()
        pin.drive_high()  # far shorter than 100 ms: nothing at all
        pin.drive_low()
        await asyncio.sleep(0.15)  # a real press
        pin.drive_high()  # toggle: the release starts the turn
        await eventually(lambda: daemon.engine.visitor.talking)
        assert daemon.summary.conversations == 0 and daemon.engine.turns == 0
        pin.drive_low()  # held past hold_time: the conversation ends
        await eventually(lambda: daemon.engine.state is State.IDLE)
        pin.drive_high()
    assert daemon.summary.conversations == 1  # one, from the real press only
    assert "input_audio_buffer.commit" not in [e["type"] for e in emu.received]


@asynccontextmanager
async def with_wake(
    tmp_path: Path, emu: Emulator, caller: Path, seen: Seen
) -> AsyncIterator[Daemon]:
    from device.wake.listener import WakeListener
    from device.wake.oww import detector_from_settings

    base = settings_for(tmp_path, caller)
    settings = dataclasses.replace(
        base,
        audio=dataclasses.replace(
            base.audio,
            input=FileInput(path=caller, speed=1.0, tail_silence_ms=60_000, caller="timeline"),
            output=FileOutput(path=tmp_path / "reply.wav", speed=1.0),
        ),
        conversation=dataclasses.replace(base.conversation, start="on_signal"),
        wake=dataclasses.replace(base.wake, enabled=True),
    )

    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    inbox = Inbox()
    wake = WakeListener(detector_from_settings(settings.wake), inbox.wake_heard)
    daemon = Daemon(
        settings,
        mic=WavMic(settings.audio.input),
        speaker=WavSpeaker(settings.audio.output),
        connect=connect_to(emu.url, settings),
        inbox=inbox,
        wake=wake,
        sinks=[seen],
    )
    task = asyncio.create_task(daemon.run())
    try:
        yield daemon
    finally:
        daemon.stop()
        await stopped(task, 15)


@pytest.mark.slow
async def test_hey_jarvis_and_the_question_in_one_breath_reach_the_server_whole(
    tmp_path: Path,
) -> None:
    caller = joined_wavs(
        tmp_path,
        [silence_wav(tmp_path, "lead", 1.5), DEMO_AUDIO / "wake-question.wav"],
    )
    seen = Seen()
    async with (
        Emulator(one_turn(), on_event=validate) as emu,
        with_wake(tmp_path, emu, caller, seen) as daemon,
    ):
        await eventually(lambda: daemon.summary.assistant_transcripts == [ANSWER], 20)
        started = [r for r in seen.reports if isinstance(r, ConversationStarted)]
        speech = [e for e in emu.sent if e["type"] == "input_audio_buffer.speech_started"]
    assert started[0].source.startswith("wake word hey_jarvis")
    # the first thing uploaded is the question's first word: speech from the first append
    assert speech and speech[0]["audio_start_ms"] <= 300


@pytest.mark.slow
async def test_the_wake_phrase_during_a_reply_interrupts_it(tmp_path: Path) -> None:
    long_answer = "We are open every day. " * 12
    caller = joined_wavs(
        tmp_path,
        [
            silence_wav(tmp_path, "lead", 1.5),
            DEMO_AUDIO / "wake-question.wav",
            silence_wav(tmp_path, "gap", 3.0),
            espeak_wav(tmp_path, "again", "Hey Jarvis."),
        ],
    )
    sc = one_turn(long_answer)
    seen = Seen()
    async with (
        Emulator(sc, on_event=validate) as emu,
        with_wake(tmp_path, emu, caller, seen) as daemon,
    ):
        await eventually(lambda: any(isinstance(r, Interrupted) for r in seen.reports), 30)
        await eventually(lambda: daemon.engine.state is State.LISTENING)
        await eventually(lambda: daemon.audio.wake.detections == 2, 5)
        sent = [e["type"] for e in emu.received]
        assert daemon.engine.active  # the conversation went on
    [cut] = [r for r in seen.reports if isinstance(r, Interrupted)]
    # the wake word heard the phrase during the reply; it or the server's speech detection
    # (whichever is first: one interrupt path) stopped the reply where the caller spoke
    assert daemon.audio.wake.detections == 2
    assert cut.source.startswith(("wake word hey_jarvis", "the caller")) and cut.audio_end_ms
    assert "conversation.item.truncate" in sent
    # the device cancels the reply itself when it interrupted first; the server otherwise
    assert ("response.cancel" in sent) is cut.source.startswith("wake word")


async def test_a_pause_the_local_detector_let_go_on_reaches_the_timeline_and_summary(
    tmp_path: Path,
) -> None:
    """The detector's worker thread reports a pause (ReplyPaused): the daemon takes it to
    the loop and every sink gets it (the timeline line, the run summary's list)."""
    seen = Seen()
    async with (
        Emulator(one_turn(), on_event=validate) as emu,
        with_wake(tmp_path, emu, silence_wav(tmp_path, "quiet", 1.0), seen) as daemon,
    ):
        await eventually(lambda: daemon.keeper.standby)
        worker = threading.Thread(target=daemon.inbox.local_pause, args=(140.0, False))
        worker.start()
        await asyncio.to_thread(worker.join, 5)
        await eventually(lambda: daemon.summary.reply_pause_ms == [140.0], 5)
    assert ReplyPaused(140.0, False) in seen.reports
