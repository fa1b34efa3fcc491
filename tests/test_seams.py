"""The daemon's seams: two lanes, the supervisor, a reader that fails, two visitors."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from device.audio.frames import AudioFrame
from device.audio.settings import FileInput, FileOutput, PyAudioInput
from device.audio.wav import WavMic, WavSpeaker
from device.conversation import State
from device.daemon.daemon import Daemon
from device.daemon.lanes import Lanes
from device.daemon.supervisor import Supervisor
from device.realtime.commands import AppendAudio, CancelReply, LinkCommand, Truncate
from device.realtime.events import SessionCreated
from device.services.triggers import Trigger, TriggerAction
from tests.helpers import (
    ANSWER,
    QUESTION,
    connect_to,
    eventually,
    one_turn,
    run_daemon,
    settings_for,
    stopped,
    validate,
)
from tools.realtime_emulator import Emulator


async def test_control_goes_out_before_queued_audio_and_audio_is_bounded() -> None:
    lanes = Lanes(max_audio=3)
    for n in range(5):  # a stalled socket: more audio than the lane holds
        lanes.put_audio(AppendAudio(bytes(960), event_id=f"aud_{n}"))
    lanes.put_control(CancelReply(event_id="dev_1"))
    lanes.put_control(Truncate("item_a1", 1234, event_id="dev_2"))
    got: list[LinkCommand] = [await lanes.next() for _ in range(5)]
    assert [c.event_id for c in got] == ["dev_1", "dev_2", "aud_2", "aud_3", "aud_4"]
    assert lanes.dropped_audio == 2  # the oldest, counted
    assert lanes.pop() is None


async def test_a_worker_that_keeps_failing_is_restarted_then_ends_the_daemon() -> None:
    failures: list[tuple[str, bool]] = []
    fatal: list[str] = []
    runs = 0

    async def worker() -> None:
        nonlocal runs
        runs += 1
        raise OSError("sound card gone")

    sup = Supervisor(
        on_failure=lambda name, exc, again: failures.append((name, again)),
        on_fatal=fatal.append,
        max_restarts=2,
    )
    task = sup.spawn("microphone", worker, restart=True)
    await asyncio.wait_for(task, 5)
    assert runs == 3
    assert failures == [("microphone", True), ("microphone", True), ("microphone", False)]
    assert fatal == ["microphone failed 3 times"]
    await sup.close()


class BrokenReaderLink:
    """A link whose reader fails the way a codec bug would: the conversation must go on."""

    close_code: int | None = None
    malformed: int = 0

    def __init__(self) -> None:
        self.sent: list[LinkCommand] = []
        self.closed = False

    async def send(self, command: LinkCommand) -> None:
        self.sent.append(command)

    async def events(self) -> AsyncIterator[Any]:
        yield SessionCreated("sess_1")
        raise RecursionError("maximum recursion depth exceeded")

    async def close(self) -> None:
        self.closed = True


async def test_a_reader_that_raises_is_reported_and_the_conversation_does_not_freeze(
    tmp_path: Path,
) -> None:
    link = BrokenReaderLink()

    async def connect() -> BrokenReaderLink:
        return link

    settings = settings_for(tmp_path, QUESTION)
    summary = await asyncio.wait_for(run_daemon(settings, connect=connect), 10)
    codes = [e["code"] for e in summary.errors]
    assert codes == ["link_lost"]  # the session could not be set up for the visitor
    assert "reading the link failed: RecursionError" in summary.errors[0]["message"]
    assert link.closed and summary.conversations == 1


class FailingMic:
    overflows = 0

    async def frames(self) -> AsyncIterator[AudioFrame]:
        raise OSError("[Errno -9999] Unanticipated host error")
        yield  # pragma: no cover

    async def close(self) -> None:
        pass


async def test_a_microphone_loop_that_keeps_failing_stops_the_daemon_with_a_reason(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, QUESTION)
    assert isinstance(settings.audio.output, FileOutput)

    async def connect() -> Any:
        raise AssertionError("no conversation starts")

    settings = dataclasses.replace(  # a sound card, read all the time
        settings,
        audio=dataclasses.replace(settings.audio, input=PyAudioInput()),
        conversation=dataclasses.replace(settings.conversation, start="on_signal"),
        realtime=dataclasses.replace(settings.realtime, standby=False),  # no network here
    )
    daemon = Daemon(
        settings, mic=FailingMic(), speaker=WavSpeaker(settings.audio.output), connect=connect
    )
    summary = await asyncio.wait_for(daemon.run(), 10)
    assert daemon.failed == "microphone failed 6 times"
    assert [e["code"] for e in summary.errors] == ["worker"] * 6


async def test_two_visitors_back_to_back_each_get_a_fresh_session(tmp_path: Path) -> None:
    """Nothing the first visitor said reaches the session the second one opens."""
    base = settings_for(tmp_path, QUESTION)
    settings = dataclasses.replace(
        base,
        audio=dataclasses.replace(
            base.audio,
            input=FileInput(path=QUESTION, speed=0, tail_silence_ms=60_000),
        ),
        conversation=dataclasses.replace(base.conversation, start="on_signal"),
    )
    async with Emulator(one_turn(), on_event=validate) as emu:
        assert isinstance(settings.audio.input, FileInput)
        assert isinstance(settings.audio.output, FileOutput)
        daemon = Daemon(
            settings,
            mic=WavMic(settings.audio.input),
            speaker=WavSpeaker(settings.audio.output),
            connect=connect_to(emu.url, settings),
        )
        served = asyncio.create_task(daemon.run())
        await eventually(lambda: daemon.ready)  # running: a trigger now is not dropped
        daemon.trigger(Trigger(TriggerAction.START, "button"))
        await eventually(lambda: daemon.summary.assistant_transcripts == [ANSWER])
        await eventually(lambda: daemon.engine.state is State.LISTENING)
        first = daemon.engine.visitor
        daemon.trigger(Trigger(TriggerAction.END, "long press"))
        await eventually(lambda: daemon.engine.state is State.IDLE)
        at_second = len(emu.received)
        daemon.trigger(Trigger(TriggerAction.START, "button"))
        await eventually(lambda: daemon.engine.state is State.LISTENING)
        second = daemon.engine.visitor
        daemon.stop()
        await stopped(served, 10)
    assert emu.sessions == 2
    assert first.transcript and second.transcript == []
    updates = [e for e in emu.received if e["type"] == "session.update"]
    assert len(updates) == 2
    assert {k: v for k, v in updates[0].items() if k != "event_id"} == {
        k: v for k, v in updates[1].items() if k != "event_id"
    }
    later = [e["type"] for e in emu.received[at_second:]]
    assert "conversation.item.create" not in later  # no words of the first visitor
