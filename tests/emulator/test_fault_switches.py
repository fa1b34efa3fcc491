"""Each fault switch of the emulator does what it says, over real WebSockets on loopback.

A plain websockets client (not the daemon) talks to the emulator; every event the emulator
sends as a valid event, and every client event, is checked against the openai types by the
``validate`` hook. Frames that are broken on purpose (malformed, unknown types) are checked
to be what the switch promises, and to be refused by the validator where they are JSON.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.emulator.helpers import MANUAL, Client, client
from tests.helpers import KEY, validate
from tests.openai_schema import assert_server_event
from tools.realtime_emulator import Emulator, Scenario, ScenarioError
from tools.realtime_emulator.faults import MALFORMED_KINDS

REPLY = "Hello there, and welcome to the shop. How can I help you today?"


def scenario(turn: dict[str, Any] | None = None, **top: Any) -> Scenario:
    first = {"user": "Hi", "reply": REPLY, **(turn or {})}
    return Scenario.from_dict(
        {"stream_speed": 0, **top, "turns": [first, {"user": "Again", "reply": "Yes."}]}
    )


async def ask(c: Client, text: str = "Hi") -> None:
    """A caller turn by text (manual turn detection): the item, then response.create."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await c.send({"type": "conversation.item.create", "item": item})
    await c.send({"type": "response.create", "event_id": "evt_create_1"})


async def manual(c: Client) -> None:
    await c.until("session.created")
    await c.update(**MANUAL)
    await c.until("session.updated")


@pytest.mark.parametrize("code", [1000, 1001, 1011, 1006])
async def test_close_mid_response_with_the_chosen_code(code: int) -> None:
    sc = scenario({"close": code, "fault_at": 2})
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await manual(c)
        await ask(c)
        await asyncio.wait_for(c.closed.wait(), 5)
        assert c.ws.close_code == code
        if code == 1006:
            assert c.ws.protocol.close_rcvd is None  # TCP dropped: no close frame
        else:
            assert c.ws.protocol.close_rcvd is not None and c.ws.protocol.close_rcvd.code == code
    assert len(c.of_type("response.output_audio.delta")) == 2  # mid-response
    assert not c.of_type("response.done")
    assert [f.kind for f in emu.fired] == ["close"]


async def test_drop_is_still_close_1006_right_after_response_created() -> None:
    async with Emulator(scenario({"drop": True}), on_event=validate) as emu, client(emu) as c:
        await manual(c)
        await ask(c)
        await asyncio.wait_for(c.closed.wait(), 5)
    assert c.ws.close_code == 1006
    assert c.of_type("response.created") and not c.of_type("response.output_audio.delta")


async def test_a_stall_sends_nothing_but_answers_pings_until_healed() -> None:
    async with Emulator(scenario(), on_event=validate) as emu, client(emu) as c:
        await manual(c)
        assert await emu.inject({"stall": {"ms": None, "pings": True}}) == 1
        await emu.wait_for(lambda: len(emu.fired) == 1)
        before = len(c.frames)
        await ask(c)
        pong = await c.ws.ping()
        await asyncio.wait_for(pong, 2)  # the link looks alive...
        assert len(c.frames) == before  # ...but nothing was sent, nothing handled
        assert not emu.of_type("client", "response.create")
        emu.heal()
        done = await c.until("response.done")
    assert done["response"]["status"] == "completed"


@pytest.mark.slow
async def test_a_stall_with_pings_off_leaves_pings_unanswered_until_it_ends() -> None:
    loop = asyncio.get_running_loop()
    async with Emulator(scenario(), on_event=validate) as emu, client(emu) as c:
        await manual(c)
        await emu.inject({"stall": {"ms": 600, "pings": False}})
        await emu.wait_for(lambda: len(emu.fired) == 1)
        t0 = loop.time()
        pong = await c.ws.ping()
        await asyncio.wait_for(pong, 5)
        assert loop.time() - t0 >= 0.5  # answered only once the stall was over
        await ask(c)
        await c.until("response.done")


async def test_a_timed_stall_from_the_scenario_still_delays_the_answer() -> None:
    loop = asyncio.get_running_loop()
    async with Emulator(scenario({"stall": 400}), on_event=validate) as emu, client(emu) as c:
        await manual(c)
        await ask(c)
        created = await c.until("response.created")
        t0 = loop.time()
        await c.until("response.done")
        assert loop.time() - t0 >= 0.35
    assert created["response"]["status"] == "in_progress"


@pytest.mark.parametrize("fault_at", ["created", 3])
async def test_stall_response_sends_nothing_more_for_that_response(fault_at: Any) -> None:
    sc = scenario({"stall_response": True, "fault_at": fault_at})
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await manual(c)
        await ask(c)
        await emu.wait_for(lambda: len(emu.fired) == 1)
        # the session still answers: the response is active, so a second create is refused
        await c.send({"type": "response.create", "event_id": "evt_again"})
        refused = await c.until("error")
        assert refused["error"]["code"] == "conversation_already_has_active_response"
        assert refused["error"]["event_id"] == "evt_again"
        deltas = len(c.of_type("response.output_audio.delta"))
        await c.send({"type": "response.cancel"})
        done = await c.until("response.done")
    assert deltas == (0 if fault_at == "created" else 3)
    assert done["response"]["status"] == "cancelled"


@pytest.mark.parametrize("kind", sorted(MALFORMED_KINDS))
async def test_each_kind_of_malformed_frame(kind: str) -> None:
    async with Emulator(scenario({"malformed": kind}), on_event=validate) as emu, client(emu) as c:
        await manual(c)
        await ask(c)
        if kind == "bad_utf8":  # a text frame that is not UTF-8: a strict client gives up
            await asyncio.wait_for(c.closed.wait(), 5)
            sent = c.ws.protocol.close_sent
            assert sent is not None and sent.code == 1007  # "invalid frame payload data"
            return
        await c.until("response.done")
    created = next(i for i, f in enumerate(c.frames) if '"response.created"' in f)
    frame = c.frames[created + 1]  # the fault fires right after response.created
    if kind == "bad_utf8_binary":
        with pytest.raises(UnicodeDecodeError):
            c.binary[0].decode("utf-8")
        return
    if kind == "not_json":
        with pytest.raises(ValueError):
            json.loads(frame)
    elif kind == "deep_nesting":
        with pytest.raises(RecursionError):
            json.loads(frame)
    elif kind == "huge_integer":
        with pytest.raises(ValueError, match="digits"):
            json.loads(frame)
    elif kind == "not_object":
        assert isinstance(json.loads(frame), list)
    else:  # wrong_types: JSON, a known type, fields of the wrong types
        event = json.loads(frame)
        assert event["type"] == "response.output_audio.delta" and event["delta"] == 12345
        with pytest.raises(AssertionError, match="invalid"):
            assert_server_event(event)
    assert [f.kind for f in emu.fired] == ["malformed"]


async def test_an_unknown_event_type_is_well_formed_and_not_in_the_api() -> None:
    sc = scenario({"unknown_event": "response.telepathy.delta"})
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await manual(c)
        await ask(c)
        await c.until("response.done")
    [odd] = c.of_type("response.telepathy.delta")
    assert odd["event_id"]
    with pytest.raises(AssertionError):
        assert_server_event(odd)
    assert not emu.of_type("server", "response.telepathy.delta")  # not shown as valid


# every code the device classifies (device/realtime/ga/errors.py), with its default type
CODES = [
    "conversation_already_has_active_response",
    "response_cancel_not_active",
    "input_audio_buffer_commit_empty",
    "unsupported_content_type",
    "item_truncate_invalid_item_id",
    "item_truncate_invalid_audio_end_ms",
    "session_expired",
    "session_closed",
    "session_not_found",
    "invalid_api_key",
    "authentication_error",
    "invalid_authentication",
    "permission_denied",
    "insufficient_permissions",
    "insufficient_quota",
    "model_not_found",
    "beta_api_shape_disabled",
    "unknown_parameter",
    "missing_required_parameter",
    "invalid_value",
    "invalid_type",
    "rate_limit_exceeded",
    "server_error",
]
TYPES = {
    "insufficient_quota": "insufficient_quota",
    "rate_limit_exceeded": "tokens",
    "server_error": "server_error",
}


async def test_error_events_of_each_code_the_device_classifies() -> None:
    async with Emulator(scenario(), on_event=validate) as emu, client(emu) as c:
        await manual(c)
        for n, code in enumerate(CODES, start=1):
            await emu.inject({"error": code})
            error = (await c.until("error", n=n))["error"]
            etype = TYPES.get(
                code, "server_error" if code == "server_error" else "invalid_request_error"
            )
            assert (error["code"], error["type"], error["event_id"]) == (code, etype, None)
            assert error["message"]
        custom = {
            "code": "invalid_value",
            "param": "session.voice",
            "message": "Bad voice.",
            "type": "invalid_request_error",
        }
        await emu.inject({"error": custom})
        error = (await c.until("error", n=len(CODES) + 1))["error"]
    assert (error["param"], error["message"]) == ("session.voice", "Bad voice.")


async def test_an_error_can_name_the_client_event_it_answers() -> None:
    turn = {
        "tool_call": {"name": "lookup", "arguments": {"q": "x"}},
        "error": {"code": "conversation_already_has_active_response", "answers": "response.create"},
        "fault_at": "done",  # while the device runs the tool
    }
    sc = scenario(turn)
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await manual(c)
        await ask(c)
        await c.until("response.done")
        answered = (await c.until("error"))["error"]
        await emu.inject({"error": {"code": "server_error", "event_id": "evt_named"}})
        literal = (await c.until("error", n=2))["error"]
    assert answered["event_id"] == "evt_create_1"  # the response.create ask() sent
    assert literal["event_id"] == "evt_named"
    types = [json.loads(f)["type"] for f in c.frames]
    assert types.index("error") > types.index("response.done")


@pytest.mark.slow
async def test_slow_connect_holds_the_handshake_then_session_created() -> None:
    loop = asyncio.get_running_loop()
    async with Emulator(scenario(), on_event=validate) as emu:
        emu.configure(handshake_delay_ms=300)
        t0 = loop.time()
        async with client(emu) as c:
            t1 = loop.time()
            await c.until("session.created")
        assert t1 - t0 >= 0.29
        emu.configure(handshake_delay_ms=0, created_delay_ms=300)
        t0 = loop.time()
        async with client(emu) as c:
            t1 = loop.time()
            await c.until("session.created")
            t2 = loop.time()
        assert t1 - t0 < 0.29 and t2 - t1 >= 0.29


@pytest.mark.parametrize(
    ("status", "code"), [(401, "invalid_api_key"), (429, "rate_limit_exceeded"), (503, None)]
)
async def test_refuse_the_handshake_then_accept(status: int, code: str | None) -> None:
    sc = scenario(connection={"refuse": status, "refuse_times": 1, "retry_after_s": 7})
    async with Emulator(sc, on_event=validate) as emu:
        with pytest.raises(InvalidStatus) as info:
            await connect(emu.url, additional_headers={"Authorization": f"Bearer {KEY}"})
        response = info.value.response
        assert response.status_code == status
        assert response.headers["Retry-After"] == "7"
        assert json.loads(response.body)["error"]["code"] == code
        assert (emu.refused, emu.sessions) == (1, 0)
        async with client(emu) as c:  # refuse_times: 1, so the next one gets in
            await c.until("session.created")
    assert emu.sessions == 1


async def test_session_expiry_on_the_clock_is_session_expired_then_close_1001() -> None:
    sc = scenario(faults=[{"after_ms": 100, "expire": True}])
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await asyncio.wait_for(c.closed.wait(), 5)
    assert c.ws.close_code == 1001
    assert json.loads(c.frames[-1])["error"]["code"] == "session_expired"


@pytest.mark.parametrize("exhausted", ["requests", "tokens"])
async def test_rate_limits_updated_with_a_limit_exhausted(exhausted: str) -> None:
    turn = {"rate_limits": {"exhausted": exhausted, "reset_seconds": 20}, "fault_at": "done"}
    async with Emulator(scenario(turn), on_event=validate) as emu, client(emu) as c:
        await manual(c)
        await ask(c)
        normal = await c.until("rate_limits.updated")
        spent = await c.until("rate_limits.updated", n=2)
    limits = {x["name"]: x for x in spent["rate_limits"]}
    assert (limits[exhausted]["remaining"], limits[exhausted]["reset_seconds"]) == (0, 20)
    other = "tokens" if exhausted == "requests" else "requests"
    assert limits[other]["remaining"] > 0
    assert all(x["remaining"] > 0 for x in normal["rate_limits"])


async def test_heal_makes_a_faulty_scenario_healthy_for_the_next_session() -> None:
    sc = scenario({"close": 1011})
    async with Emulator(sc, on_event=validate) as emu:
        async with client(emu) as c:
            await manual(c)
            await ask(c)
            await asyncio.wait_for(c.closed.wait(), 5)
            assert c.ws.close_code == 1011
        emu.heal()
        async with client(emu) as c:
            await manual(c)
            await ask(c)
            done = await c.until("response.done")
    assert done["response"]["status"] == "completed"
    assert [f.session for f in emu.fired] == [1]


@pytest.mark.parametrize(
    ("turn", "problem"),
    [
        ({"close": 999}, "turns[0].close: expected a close code"),
        ({"stall_response": True, "fault_at": "done"}, "turns[0].fault_at: stall_response"),
        ({"stall": {"pings": False}}, "turns[0].stall: missing key 'ms'"),
        ({"rate_limits": {"exhausted": "all"}}, "turns[0].rate_limits.exhausted"),
        ({"error": {"code": "x", "event_id": "a", "answers": "b"}}, "not both"),
        ({"fault_at": 0}, "turns[0].fault_at"),
    ],
)
def test_a_bad_fault_names_the_key(turn: dict[str, Any], problem: str) -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict({"turns": [{"user": "Hi", "reply": "Yes.", **turn}]})
    assert problem in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ScenarioError, match=r"connection\.refuse"):
        Scenario.from_dict({"connection": {"refuse": 200}})


async def test_inject_can_aim_at_one_session_and_scripted_faults_switch_off() -> None:
    async with Emulator(scenario({"close": 1011}), on_event=validate) as emu:
        emu.configure(scripted=False)  # the scenario's close does not fire...
        async with client(emu) as one, client(emu) as two:
            await manual(one)
            await manual(two)
            assert emu.open_connections == 2
            assert await emu.inject({"close": 1001}, session=2) == 1  # ...an injected one does
            await asyncio.wait_for(two.closed.wait(), 5)
            await ask(one)
            done = await one.until("response.done")
        assert two.ws.close_code == 1001
        assert done["response"]["status"] == "completed"
        assert [(f.session, f.kind) for f in emu.fired] == [(2, "close")]
        await emu.wait_for(lambda: emu.open_connections == 0)


async def test_nothing_of_a_cancelled_response_follows_its_done_when_a_stall_ends() -> None:
    """A piece made before a stall must not go out after the response.done that the
    client's cancel (handled as the stall ends) produced."""
    for _ in range(5):
        async with Emulator(scenario(), on_event=validate) as emu, client(emu) as c:
            await manual(c)
            await ask(c)
            await c.until("response.output_audio.delta")
            assert await emu.inject({"stall": {"ms": None, "pings": True}}) == 1
            await emu.wait_for(lambda: len(emu.fired) == 1)
            await c.send({"type": "response.cancel"})
            emu.heal()
            done = await c.until("response.done")
            await asyncio.wait_for(await c.ws.ping(), 2)  # all sent before the pong is in
            rid = done["response"]["id"]
            events = c.events()
            after = events[events.index(done) + 1 :]
            assert [e["type"] for e in after if e.get("response_id") == rid] == []
