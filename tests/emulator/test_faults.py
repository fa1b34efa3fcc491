"""Errors and fault switches of the emulator, over real WebSockets on loopback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.emulator.helpers import MANUAL, client, silence, tone
from tests.helpers import validate
from tools.realtime_emulator import Emulator, Scenario


def scenario(*turns: dict[str, Any], **top: Any) -> Scenario:
    return Scenario.from_dict({"stream_speed": 0, **top, "turns": list(turns)})


async def test_a_missing_bearer_token_is_http_401() -> None:
    async with Emulator(scenario(), on_event=validate) as emu:
        with pytest.raises(InvalidStatus) as info:
            await connect(emu.url)
        assert info.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as info:
            await connect(emu.url, additional_headers={"Authorization": "Bearer  "})
        assert info.value.response.status_code == 401
        assert emu.sessions == 0


async def test_unknown_event_and_malformed_json_are_errors_and_the_session_goes_on() -> None:
    checked: list[str] = []

    def hook(direction: str, event: dict[str, Any]) -> None:
        if event.get("type") == "response.fly":  # not GA: the validator must refuse it
            with pytest.raises(AssertionError):
                validate(direction, event)
            checked.append("refused")
            return
        validate(direction, event)

    sc = scenario({"user": "Hi", "reply": "Hello."})
    async with Emulator(sc, on_event=hook) as emu, client(emu) as c:
        await c.send({"type": "response.fly", "event_id": "evt_1"})
        unknown = (await emu.wait_for_event("server", "error"))["error"]
        await c.ws.send("{not json")
        bad = (await emu.wait_for_event("server", "error", n=2))["error"]
        await c.update(**MANUAL)
        await c.send({"type": "response.create"})
        await emu.wait_for_event("server", "response.done")
    assert checked == ["refused"]
    assert unknown["type"] == "invalid_request_error"
    assert (unknown["code"], unknown["param"], unknown["event_id"]) == (
        "invalid_value",
        "type",
        "evt_1",
    )
    assert "'response.fly'" in unknown["message"]
    assert bad["type"] == "invalid_request_error" and "JSON" in bad["message"]


async def test_the_session_expires_with_session_expired_then_close_1001() -> None:
    emu = Emulator(scenario(), on_event=validate, max_session_s=0.3)
    async with emu, client(emu) as c:
        await asyncio.wait_for(c.closed.wait(), 5)
        assert c.ws.close_code == 1001
        last = json.loads(c.frames[-1])
    assert last["type"] == "error" and last["error"]["code"] == "session_expired"


async def test_an_injected_error_leaves_the_session_open_and_the_turn_answered() -> None:
    sc = scenario(
        {
            "user": "Hi",
            "error": {"code": "rate_limit_exceeded", "message": "slow down"},
            "reply": "Hello.",
        }
    )
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.append(tone(300) + silence(600))
        done = await emu.wait_for_event("server", "response.done")
    errors = emu.of_type("server", "error")
    assert [(e["error"]["code"], e["error"]["message"]) for e in errors] == [
        ("rate_limit_exceeded", "slow down")
    ]
    assert done["response"]["status"] == "completed"


async def test_drop_closes_the_connection_abruptly() -> None:
    sc = scenario({"user": "Hi", "drop": True, "reply": "Never said."})
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.append(tone(300) + silence(600))
        await asyncio.wait_for(c.closed.wait(), 5)
        assert c.ws.close_code == 1006  # no close frame
    assert not emu.of_type("server", "response.done")


async def test_malformed_frame_then_the_reply() -> None:
    sc = scenario({"user": "Hi", "malformed": True, "reply": "Hello."})
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.append(tone(300) + silence(600))
        await emu.wait_for_event("server", "response.done")
        await c.close()  # the reader has every frame the emulator sent before the close
    bad = []
    for frame in c.frames:
        try:
            json.loads(frame)
        except ValueError:
            bad.append(frame)
    assert bad == ["{this is not json"]


@pytest.mark.slow
async def test_stall_delays_the_answer_and_a_global_fault_fires_on_time() -> None:
    sc = scenario(
        {"user": "Hi", "stall": 400, "reply": "Hello."},
        faults=[{"after_ms": 100, "error": {"code": "server_error", "message": "hiccup"}}],
    )
    loop = asyncio.get_running_loop()
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        start = loop.time()
        hiccup = await emu.wait_for_event("server", "error")
        assert loop.time() - start >= 0.1
        assert hiccup["error"]["message"] == "hiccup"
        await c.append(tone(300) + silence(600))
        await emu.wait_for_event("server", "input_audio_buffer.speech_stopped")
        t0 = loop.time()
        done = await emu.wait_for_event("server", "response.done")
        assert loop.time() - t0 >= 0.4
    assert done["response"]["status"] == "completed"


async def test_latency_delays_the_first_audio() -> None:
    sc = scenario({"user": "Hi", "reply": "Hello."})
    loop = asyncio.get_running_loop()
    async with Emulator(sc, on_event=validate, latency_ms=300) as emu, client(emu) as c:
        await c.append(tone(300) + silence(600))
        await emu.wait_for_event("server", "input_audio_buffer.speech_stopped")
        t0 = loop.time()
        await emu.wait_for_event("server", "response.output_audio.delta")
        assert loop.time() - t0 >= 0.29


async def test_an_invalid_event_fails_the_test_through_on_event() -> None:
    emu = Emulator(scenario(), on_event=validate)
    with pytest.raises(AssertionError, match="invalid"):
        async with emu, client(emu) as c:
            await c.send({"type": "input_audio_buffer.append"})  # no audio: not GA
            await asyncio.wait_for(c.closed.wait(), 5)
            assert c.ws.close_code == 1011
