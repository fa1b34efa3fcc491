"""Every fault of the emulator, through the whole daemon: the right state, the right prompt,
no crash, nothing leaked (tasks, sockets), and a healthy server is used again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from device.conversation import State
from device.prompts.library import PromptLibrary
from tests.helpers import ANSWER, QUESTION, Seen, one_turn, run_daemon, settings_for, validate
from tools.realtime_emulator import Emulator

# fault, when in the reply, the errors, the prompts said, answered after all, final state
CASES: list[tuple[str, dict[str, Any], list[str], list[str], bool, State]] = [
    ("close-1000", {"close": 1000}, ["link_lost"], ["connection_lost"], False, State.OFFLINE),
    ("close-1001", {"close": 1001}, ["link_lost"], [], True, State.IDLE),
    ("close-1006", {"close": 1006}, ["link_lost"], [], True, State.IDLE),
    ("close-1011", {"close": 1011}, ["link_lost"], [], True, State.IDLE),
    ("expiry", {"expire": True}, ["session_expired"], [], True, State.IDLE),
    ("malformed-json", {"malformed": "not_json"}, [], [], True, State.IDLE),
    ("deep-nesting", {"malformed": "deep_nesting"}, [], [], True, State.IDLE),
    ("huge-integer", {"malformed": "huge_integer"}, [], [], True, State.IDLE),
    ("unknown-event", {"unknown_event": "response.future_thing"}, [], [], True, State.IDLE),
    (
        "rate-limited",
        {"error": "rate_limit_exceeded"},
        ["rate_limit_exceeded", "busy"],
        ["busy"],
        False,
        State.IDLE,
    ),
    (  # a transient error that names nothing the device sent changes nothing
        "server-error",
        {"error": "server_error"},
        ["server_error"],
        [],
        True,
        State.IDLE,
    ),
    ("bad-key", {"error": "invalid_api_key"}, ["invalid_api_key"], [], False, State.ERROR),
    (
        "limits-used-up",
        {"rate_limits": {"exhausted": "requests", "reset_seconds": 20}},
        ["busy"],
        ["busy"],
        False,
        State.IDLE,
    ),
]


@pytest.mark.parametrize(
    ("fault", "errors", "prompts", "answered", "state"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_a_fault_mid_reply(
    tmp_path: Path,
    fault: dict[str, Any],
    errors: list[str],
    prompts: list[str],
    answered: bool,
    state: State,
) -> None:
    settings = settings_for(tmp_path, QUESTION)
    scenario = one_turn(fault_at=2, **fault)
    tasks_before = len(asyncio.all_tasks())
    seen = Seen()
    async with Emulator(scenario, on_event=validate) as emu:

        async def heal_after_the_fault() -> None:
            await emu.wait_for(lambda: bool(emu.fired))
            emu.configure(scripted=False)  # a new session is healthy

        healer = asyncio.create_task(heal_after_the_fault())
        prompt_library = PromptLibrary.load(settings.conversation.prompts_dir)
        summary = await asyncio.wait_for(
            run_daemon(settings, emu.url, prompts=prompt_library, sinks=[seen]), 30
        )
        await asyncio.wait_for(healer, 5)
        await emu.wait_for(lambda: emu.open_connections == 0)  # every socket closed
    assert [e["code"] for e in summary.errors] == errors
    assert seen.prompts() == prompts
    assert (summary.assistant_transcripts == [ANSWER]) is answered
    assert seen.last_state() is state
    assert len(asyncio.all_tasks()) == tasks_before  # nothing left running


@pytest.mark.slow
async def test_a_slow_handshake_and_a_late_session_created_still_serve(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, QUESTION)
    scenario = one_turn()
    async with Emulator(scenario, on_event=validate) as emu:
        emu.configure(handshake_delay_ms=400, created_delay_ms=400)
        summary = await asyncio.wait_for(run_daemon(settings, emu.url), 30)
    assert summary.errors == [] and summary.assistant_transcripts == [ANSWER]
