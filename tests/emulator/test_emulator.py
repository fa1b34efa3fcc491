"""The Realtime emulator against a plain websockets client; every event is validated both ways
against the official `openai` types (tests/openai_schema.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.openai_schema import assert_client_event, assert_server_event
from tools.realtime_emulator import Emulator, Scenario

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer test-key-not-a-secret"}
QUESTION = "What are your opening hours?"


def validate(direction: str, event: dict[str, Any]) -> None:
    (assert_client_event if direction == "client" else assert_server_event)(event)


@cache
def speech(text: str) -> bytes:
    """espeak-ng speech as PCM16 mono 24 kHz (the API's input format)."""
    path = Path(f"/tmp/emulator-test-{abs(hash(text))}.wav")
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    path.unlink()
    return np.asarray(soxr.resample(samples, rate, 24000), dtype="<i2").tobytes()


def silence(ms: int) -> bytes:
    return bytes(ms * 48)


class Client:
    """A bare Realtime client: send dicts, await server events by type."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def append(self, pcm: bytes, chunk_ms: int = 100) -> None:
        step = chunk_ms * 48
        for i in range(0, len(pcm), step):
            audio = base64.b64encode(pcm[i : i + step]).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": audio})

    async def until(self, type_: str, timeout: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                event = json.loads(await self.ws.recv())
                self.events.append(event)
                if event["type"] == type_:
                    return event

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]


@asynccontextmanager
async def session(
    emu: Emulator, turn_detection: dict[str, Any] | str | None = "default"
) -> AsyncIterator[Client]:
    async with websockets.connect(emu.url, additional_headers=AUTH, max_size=None) as ws:
        client = Client(ws)
        await client.until("session.created")
        audio: dict[str, Any] = {"input": {"transcription": {"model": "whisper-1"}}}
        if turn_detection != "default":
            audio["input"]["turn_detection"] = turn_detection
        await client.send(
            {"type": "session.update", "session": {"type": "realtime", "audio": audio}}
        )
        await client.until("session.updated")
        yield client


def scenario(**turn: Any) -> Scenario:
    return Scenario.from_dict({"turns": [{"user": QUESTION, **turn}]})


def peak(pcm: bytes) -> int:
    return int(np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32)).max(initial=0))


def reply_audio(client: Client) -> bytes:
    return b"".join(base64.b64decode(e["delta"]) for e in client.of("response.output_audio.delta"))


async def test_spoken_question_gets_vad_events_transcript_and_a_spoken_reply() -> None:
    voice = speech(QUESTION)
    loud = np.flatnonzero(np.abs(np.frombuffer(voice, dtype="<i2")) > 300)
    lead = 700
    onset_ms = lead + loud[0] / 24
    end_ms = lead + (loud[-1] + 1) / 24
    async with (
        Emulator(scenario(reply="We open at nine."), on_event=validate) as emu,
        session(emu) as c,
    ):
        await c.append(silence(lead) + voice + silence(1500))
        started = await c.until("input_audio_buffer.speech_started")
        stopped = await c.until("input_audio_buffer.speech_stopped")
        transcript = await c.until("conversation.item.input_audio_transcription.completed")
        done = await c.until("response.done")
        await c.until("rate_limits.updated")
        assert emu.audio_received_ms == pytest.approx(lead + len(voice) / 48 + 1500, abs=1)
    # the GA API's times include prefix_padding_ms (300) and silence_duration_ms (500)
    assert started["audio_start_ms"] == pytest.approx(onset_ms - 300, abs=100)
    assert stopped["audio_end_ms"] == pytest.approx(end_ms + 500, abs=100)
    assert started["item_id"] == stopped["item_id"] == transcript["item_id"]
    assert transcript["transcript"] == QUESTION
    assert done["response"]["status"] == "completed"
    assert done["response"]["usage"]["output_tokens"] > 0
    assert c.of("response.output_audio_transcript.done")[0]["transcript"] == "We open at nine."
    audio = reply_audio(c)
    assert len(audio) / 48 > 500 and peak(audio) > 1000
    assert emu.sessions == 1
    assert [e["type"] for e in emu.received][:2] == ["session.update", "input_audio_buffer.append"]


async def test_tool_call_round_trip_fills_output_into_the_reply() -> None:
    sc = scenario(
        call={"name": "job_status", "arguments": {"job_id": "42"}}, reply="It says {output}"
    )
    async with Emulator(sc, on_event=validate) as emu, session(emu, turn_detection=None) as c:
        await c.append(speech(QUESTION))
        await c.send({"type": "input_audio_buffer.commit"})
        await c.until("input_audio_buffer.committed")
        await c.send({"type": "response.create"})
        args = await c.until("response.function_call_arguments.done")
        first = await c.until("response.done")
        assert args["name"] == "job_status" and json.loads(args["arguments"]) == {"job_id": "42"}
        assert first["response"]["output"][0]["type"] == "function_call"
        item = {"type": "function_call_output", "call_id": args["call_id"], "output": "ready"}
        await c.send({"type": "conversation.item.create", "item": item})
        await c.send({"type": "response.create"})
        said = await c.until("response.output_audio_transcript.done")
        await c.until("response.done")
    assert said["transcript"] == "It says ready"


async def test_speech_during_a_reply_cancels_it_as_turn_detected() -> None:
    sc = Scenario.from_dict(
        {
            "stream_speed": 1,
            "turns": [
                {"user": QUESTION, "reply": "We are open from nine in the morning to five."},
                {"user": "Stop.", "reply": "Okay."},
            ],
        }
    )
    async with Emulator(sc, on_event=validate) as emu, session(emu) as c:
        await c.append(speech(QUESTION) + silence(700))
        await c.until("response.output_audio.delta")
        await c.append(speech("Stop."))
        await c.until("input_audio_buffer.speech_started")
        done = await c.until("response.done")
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}


async def test_truncate_beyond_the_audio_is_an_error_and_within_it_works() -> None:
    async with (
        Emulator(scenario(reply="We open at nine."), on_event=validate) as emu,
        session(emu, turn_detection=None) as c,
    ):
        await c.append(speech(QUESTION))
        await c.send({"type": "input_audio_buffer.commit"})
        await c.send({"type": "response.create"})
        done = await c.until("response.done")
        item_id = done["response"]["output"][0]["id"]
        sent_ms = len(reply_audio(c)) / 48
        truncate = {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
        }
        await c.send({**truncate, "audio_end_ms": int(sent_ms) + 1000})
        error = await c.until("error")
        await c.send({**truncate, "audio_end_ms": 200})
        truncated = await c.until("conversation.item.truncated")
    assert (error["error"]["code"], error["error"]["param"]) == ("invalid_value", "audio_end_ms")
    assert truncated["audio_end_ms"] == 200 and truncated["item_id"] == item_id


@pytest.mark.slow
async def test_protocol_errors_are_error_events_and_the_session_goes_on() -> None:
    sc = Scenario.from_dict({"stream_speed": 1, "turns": [{"user": QUESTION, "reply": "Nine."}]})

    def validate_but_the_bad_one(direction: str, event: dict[str, Any]) -> None:
        if event.get("type") != "no.such.event":  # sent on purpose below
            validate(direction, event)

    async with (
        Emulator(sc, on_event=validate_but_the_bad_one) as emu,
        session(emu, turn_detection=None) as c,
    ):
        await c.append(silence(50))
        await c.send({"type": "input_audio_buffer.commit"})
        assert (await c.until("error"))["error"]["code"] == "input_audio_buffer_commit_empty"
        await c.send({"type": "response.cancel"})
        assert (await c.until("error"))["error"]["code"] == "response_cancel_not_active"
        await c.ws.send("{not json")
        assert (await c.until("error"))["error"]["type"] == "invalid_request_error"
        await c.ws.send(json.dumps({"type": "no.such.event"}))
        assert (await c.until("error"))["error"]["param"] == "type"
        await c.send({"type": "response.create"})
        await c.until("response.created")
        await c.send({"type": "response.create"})
        busy = await c.until("error")
        await c.until("response.done")
    assert busy["error"]["code"] == "conversation_already_has_active_response"


async def test_a_turn_error_is_sent_when_speech_stops_before_the_response() -> None:
    sc = scenario(error={"code": "rate_limit_exceeded", "message": "slow down"}, reply="Nine.")
    async with Emulator(sc, on_event=validate) as emu, session(emu) as c:
        await c.append(speech(QUESTION) + silence(1000))
        error = await c.until("error")
        await c.until("response.done")
    assert error["error"]["code"] == "rate_limit_exceeded"
    types = [e["type"] for e in c.events]
    assert types.index("input_audio_buffer.speech_stopped") < types.index("error")
    assert types.index("error") < types.index("response.created")


async def test_a_turn_drop_closes_the_connection_abruptly() -> None:
    async with (
        Emulator(scenario(drop=True, reply="Nine."), on_event=validate) as emu,
        session(emu, turn_detection=None) as c,
    ):
        await c.append(silence(200))
        await c.send({"type": "input_audio_buffer.commit"})
        await c.send({"type": "response.create"})
        with pytest.raises(ConnectionClosed) as closed:
            await c.until("response.done")
    assert closed.value.rcvd is None  # no close frame


async def test_session_expiry_sends_session_expired_and_closes_1001() -> None:
    async with (
        Emulator(scenario(reply="Nine."), on_event=validate, max_session_s=0.3) as emu,
        session(emu) as c,
    ):
        error = await c.until("error")
        with pytest.raises(ConnectionClosed) as closed:
            await c.until("never")
    assert error["error"]["code"] == "session_expired"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


async def test_latency_delays_response_created() -> None:
    async with (
        Emulator(scenario(reply="Nine."), on_event=validate, latency_ms=300) as emu,
        session(emu, turn_detection=None) as c,
    ):
        loop = asyncio.get_running_loop()
        start = loop.time()
        await c.send({"type": "response.create"})
        await c.until("response.created")
        assert loop.time() - start >= 0.3


async def test_connections_without_a_bearer_key_get_401() -> None:
    async with Emulator(scenario(reply="Nine.")) as emu:
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(emu.url):
                pass
    assert refused.value.response.status_code == 401
    assert emu.sessions == 0


async def test_a_failing_event_hook_fails_the_block() -> None:
    def strict(direction: str, event: dict[str, Any]) -> None:
        assert event["type"] != "session.updated", "hook saw session.updated"

    with pytest.raises(AssertionError, match=r"hook saw session\.updated"):
        async with Emulator(scenario(reply="Nine."), on_event=strict) as emu:
            with pytest.raises(ConnectionClosed):
                async with session(emu):
                    pass


@pytest.mark.slow
def test_cli_prints_the_address_and_refuses_a_bad_scenario(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "tools.realtime_emulator", "--port", "0", "--script"]
    proc = subprocess.Popen(
        [*cmd, str(ROOT / "tools/scenarios/demo.yaml")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert line.startswith("listening on ws://127.0.0.1:") and int(line.rsplit(":", 1)[1]) > 0
    assert proc.returncode == 0 and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("turns:\n  - reply: hi\n")
    result = subprocess.run([*cmd, str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{bad}: turns[0]") and "user" in lines[0]
