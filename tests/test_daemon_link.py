"""Deadlines on the server, end to end: a reply that goes silent, a link that goes dead."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from device.app import Daemon, RunOptions
from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker
from device.prompts import PromptLibrary
from device.realtime.link import RealtimeLink
from device.realtime.settings import RealtimeSettings
from device.summary import RunSummary
from tests.test_daemon import DEMO_AUDIO, KEY, settings_for, validate
from tools.realtime_emulator import Emulator, Scenario

ASKED = "What are your opening hours?"


def turn(**fault: Any) -> Scenario:
    return Scenario.from_dict({"turns": [{"user": ASKED, "reply": "We open at nine.", **fault}]})


async def run_daemon(settings: Any, url: str) -> RunSummary:
    """The daemon with its real prompts, a file caller and speaker, on the emulator."""

    async def connect() -> RealtimeLink:
        return await RealtimeLink.connect(url, settings.realtime.model, KEY, timeout_s=5)

    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    daemon = Daemon(
        settings,
        mic=WavMic(settings.audio.input),
        speaker=WavSpeaker(settings.audio.output),
        connect=connect,
        prompts=PromptLibrary.load(settings.conversation.prompts_dir),
        options=RunOptions(exit_when_input_ends=True, drain_timeout_s=20),
    )
    return await daemon.run()


def with_realtime(settings: Any, **changes: Any) -> Any:
    realtime: RealtimeSettings = dataclasses.replace(settings.realtime, **changes)
    return dataclasses.replace(settings, realtime=realtime)


async def test_a_reply_that_goes_silent_is_cancelled_and_the_caller_hears_a_prompt(
    tmp_path: Path,
) -> None:
    settings = with_realtime(settings_for(tmp_path, DEMO_AUDIO / "question.wav"), reply_stall_s=1)
    async with Emulator(turn(stall_response=True, fault_at=2), on_event=validate) as emu:
        summary = await run_daemon(settings, emu.url)
    assert [e["code"] for e in summary.errors] == ["reply_stalled"]
    assert "the server sent nothing for 1 s" in summary.errors[0]["message"]
    assert summary.prompt_audio_ms > 0  # the local error prompt played
    assert "response.cancel" in [e["type"] for e in emu.received]


async def test_a_silent_server_is_noticed_within_two_seconds_mid_reply(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, DEMO_AUDIO / "question.wav")
    stall = {"stall": {"ms": None, "pings": False}, "fault_at": 2}
    async with Emulator(turn(**stall), on_event=validate) as emu:
        start = time.monotonic()
        summary = await run_daemon(settings, emu.url)
        took_s = time.monotonic() - start
        assert emu.fired
    assert [e["code"] for e in summary.errors] == ["link_lost"]
    # the question is ~4 s of file audio; the stall is found by the 1 s ping deadline
    assert took_s < 12
