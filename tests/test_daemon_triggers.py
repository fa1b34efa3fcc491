"""Push-to-talk on a MockFactory pin and the wake word, through the whole daemon."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
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
    gpio = GpioButton(
        settings.button, lambda e, t: holder["d"].on_button(e, t), pin_factory=factory
    )
    daemon = Daemon(
        settings,
        mic=WavMic(settings.audio.input),
        speaker=WavSpeaker(settings.audio.output),
        connect=connect,
        button=gpio,
    )
    holder["d"] = daemon
    task = asyncio.create_task(daemon.run())
    try:
        await wait_for(lambda: daemon._links is not None and daemon._manager().standby)
        yield daemon, gpio.pin
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


def espeak(tmp_path: Path, name: str, text: str) -> Path:
    raw, out = tmp_path / f"{name}.raw.wav", tmp_path / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", "-q", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True
    )
    return out


def silence(tmp_path: Path, name: str, seconds: float) -> Path:
    out = tmp_path / f"{name}.wav"
    subprocess.run(
        [
            "sox",
            "-q",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(out),
            "trim",
            "0",
            str(seconds),
        ],
        check=True,
    )
    return out


def joined(tmp_path: Path, parts: list[Path]) -> Path:
    out = tmp_path / "caller.wav"
    subprocess.run(["sox", "-q", *map(str, parts), str(out)], check=True)
    return out


class Seen:
    def __init__(self) -> None:
        self.reports: list[Any] = []

    def report(self, t_ms: float, report: Any) -> None:
        self.reports.append(report)


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

    async def connect() -> RealtimeLink:
        return await RealtimeLink.connect(emu.url, settings.realtime.model, KEY, timeout_s=5)

    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    holder: dict[str, Daemon] = {}
    wake = WakeListener(
        detector_from_settings(settings.wake), lambda m, s, e: holder["d"].on_wake(m, s, e)
    )
    daemon = Daemon(
        settings,
        mic=WavMic(settings.audio.input),
        speaker=WavSpeaker(settings.audio.output),
        connect=connect,
        wake=wake,
        sinks=[seen],
    )
    holder["d"] = daemon
    task = asyncio.create_task(daemon.run())
    try:
        yield daemon
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 15)


async def test_hey_jarvis_and_the_question_in_one_breath_reach_the_server_whole(
    tmp_path: Path,
) -> None:
    caller = joined(
        tmp_path,
        [silence(tmp_path, "lead", 1.5), DEMO_AUDIO / "wake-question.wav"],
    )
    seen = Seen()
    async with (
        Emulator(scenario(), on_event=validate) as emu,
        with_wake(tmp_path, emu, caller, seen) as daemon,
    ):
        await wait_for(lambda: daemon.summary.assistant_transcripts == [ANSWER], 20)
        started = [r for r in seen.reports if isinstance(r, ConversationStarted)]
        speech = [e for e in emu.sent if e["type"] == "input_audio_buffer.speech_started"]
    assert started[0].source.startswith("wake word hey_jarvis")
    # the first thing uploaded is the question's first word: speech from the first append
    assert speech and speech[0]["audio_start_ms"] <= 300


async def test_the_wake_phrase_during_a_reply_interrupts_it(tmp_path: Path) -> None:
    long_answer = "We are open every day. " * 12
    caller = joined(
        tmp_path,
        [
            silence(tmp_path, "lead", 1.5),
            DEMO_AUDIO / "wake-question.wav",
            silence(tmp_path, "gap", 3.0),
            espeak(tmp_path, "again", "Hey Jarvis."),
        ],
    )
    sc = Scenario.from_dict({"turns": [{"user": ASKED, "reply": long_answer}]})
    seen = Seen()
    async with (
        Emulator(sc, on_event=validate) as emu,
        with_wake(tmp_path, emu, caller, seen) as daemon,
    ):
        await wait_for(lambda: any(isinstance(r, Interrupted) for r in seen.reports), 30)
        await wait_for(lambda: daemon.engine.state is State.LISTENING)
        await wait_for(lambda: daemon.wake.detections == 2, 5)
        sent = [e["type"] for e in emu.received]
        assert daemon.engine.active  # the conversation went on
    [cut] = [r for r in seen.reports if isinstance(r, Interrupted)]
    # the wake word heard the phrase during the reply; it or the server's speech detection
    # (whichever is first: one interrupt path) stopped the reply where the caller spoke
    assert daemon.wake.detections == 2
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
        Emulator(scenario(), on_event=validate) as emu,
        with_wake(tmp_path, emu, silence(tmp_path, "quiet", 1.0), seen) as daemon,
    ):
        await wait_for(lambda: daemon._links is not None and daemon._manager().standby)
        worker = threading.Thread(target=daemon.on_local_pause, args=(140.0, False))
        worker.start()
        await asyncio.to_thread(worker.join, 5)
        await wait_for(lambda: daemon.summary.reply_pause_ms == [140.0], 5)
    assert ReplyPaused(140.0, False) in seen.reports
