"""Deadlines on the server, end to end: a reply that goes silent, a link that goes dead."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from device.prompts.library import PromptLibrary
from device.realtime.settings import RealtimeSettings
from device.services.summary import RunSummary
from tests.helpers import ASKED, QUESTION, settings_for, validate
from tests.helpers import one_turn as turn
from tests.helpers import run_daemon as run_file_daemon
from tools.realtime_emulator import Emulator


async def run_daemon(settings: Any, url: str) -> RunSummary:
    """The daemon with its real prompts, a file caller and speaker, on the emulator."""
    prompts = PromptLibrary.load(settings.conversation.prompts_dir)
    return await run_file_daemon(settings, url, prompts=prompts)


def with_realtime(settings: Any, **changes: Any) -> Any:
    realtime: RealtimeSettings = dataclasses.replace(settings.realtime, **changes)
    return dataclasses.replace(settings, realtime=realtime)


@pytest.mark.slow
async def test_a_reply_that_goes_silent_is_cancelled_and_the_caller_hears_a_prompt(
    tmp_path: Path,
) -> None:
    settings = with_realtime(settings_for(tmp_path, QUESTION), reply_stall_s=1)
    async with Emulator(turn(stall_response=True, fault_at=2), on_event=validate) as emu:
        summary = await run_daemon(settings, emu.url)
    assert [e["code"] for e in summary.errors] == ["reply_stalled"]
    assert "the server sent nothing for 1 s" in summary.errors[0]["message"]
    assert summary.prompt_audio_ms > 0  # the local error prompt played
    assert "response.cancel" in [e["type"] for e in emu.received]


@pytest.mark.slow
async def test_a_server_gone_silent_mid_reply_is_noticed_and_the_conversation_restored(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, QUESTION)
    stall = {"stall": {"ms": None, "pings": False}, "fault_at": 2}
    async with Emulator(turn(**stall), on_event=validate) as emu:

        async def heal_after_the_fault() -> None:
            await emu.wait_for(lambda: bool(emu.fired))
            emu.configure(scripted=False)  # the next session is healthy

        healer = asyncio.create_task(heal_after_the_fault())
        start = time.monotonic()
        summary = await run_daemon(settings, emu.url)
        took_s = time.monotonic() - start
        await healer
        restored = [e for e in emu.received if e["type"] == "conversation.item.create"]
    assert [e["code"] for e in summary.errors] == ["link_lost"]
    # the caller's question was restored as text and answered in the new session
    assert restored[0]["item"]["content"][0]["text"] == ASKED
    assert summary.assistant_transcripts == ["We open at nine."]
    # the question is ~4 s of file audio; the stall is found by the 1 s ping deadline
    assert took_s < 15


async def test_a_link_that_keeps_dying_ends_offline_after_three_new_sessions(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, QUESTION)
    async with Emulator(turn(close=1011, fault_at=2), on_event=validate) as emu:
        summary = await run_daemon(settings, emu.url)
    assert [e["code"] for e in summary.errors] == ["link_lost"] * 4
    assert emu.sessions == 4  # the first and three new ones
