"""The websockets adapter against a real websockets server on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from device.realtime.commands import AddTextItem, RequestReply, SessionSpec, UpdateSession
from device.realtime.events import (
    AudioDelta,
    ServerEvent,
    SessionCreated,
    SpeechStarted,
    TranscriptDone,
)
from device.realtime.ga.encode import encode_event
from device.realtime.link import LinkError, RealtimeLink
from device.realtime.settings import RealtimeSettings
from tests.openai_schema import assert_client_event, assert_server_event

KEY = "sk-test-DO-NOT-LOG-4f1c9a"
MODEL = "gpt-realtime-2.1"

Handler = Callable[[ServerConnection], Awaitable[None]]


class Seen:
    """What the test server saw of the handshake and the client's frames."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.authorization: str | None = None
        self.frames: list[str] = []


@asynccontextmanager
async def server(
    script: Handler,
    *,
    process_request: Callable[[ServerConnection, Request], Response | None] | None = None,
) -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()

    async def handler(ws: ServerConnection) -> None:
        seen.path = ws.request.path if ws.request else None
        seen.authorization = ws.request.headers.get("Authorization") if ws.request else None
        await script(ws)

    # The test server logs request headers at debug level: keep its own logger quiet so
    # the checks below see only what the device logs.
    quiet = logging.getLogger("tests.realtime.server")
    quiet.setLevel(logging.WARNING)
    async with serve(
        handler, "127.0.0.1", 0, process_request=process_request, max_size=None, logger=quiet
    ) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime", seen


def created(n: int = 1) -> str:
    event = {"type": "session.created", "event_id": f"ev_{n}", "session": {"type": "realtime"}}
    assert_server_event(event)
    return json.dumps(event)


def speech_started(ms: int) -> str:
    event = {
        "type": "input_audio_buffer.speech_started",
        "event_id": f"ev_s{ms}",
        "audio_start_ms": ms,
        "item_id": "item_u1",
    }
    assert_server_event(event)
    return json.dumps(event)


async def collect(link: RealtimeLink) -> list[ServerEvent]:
    async with asyncio.timeout(10):
        return [event async for event in link.events()]


async def test_sends_key_and_model_and_round_trips_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # websockets logs handshake headers at debug level
    got_update = asyncio.get_running_loop().create_future()

    async def script(ws: ServerConnection) -> None:
        await ws.send(created())
        got_update.set_result(await ws.recv())
        await ws.send(speech_started(120))
        await ws.close()

    frames: list[tuple[str, str | bytes]] = []
    async with server(script) as (url, seen):
        link = await RealtimeLink.connect(
            url, MODEL, KEY, timeout_s=5, on_frame=lambda d, f: frames.append((d, f))
        )
        async with link:
            update = UpdateSession(SessionSpec(RealtimeSettings()), event_id="dev_1")
            await link.send(update)
            events = await collect(link)

    assert seen.authorization == f"Bearer {KEY}"
    assert seen.path == f"/v1/realtime?model={MODEL}"
    sent = json.loads(got_update.result())
    assert_client_event(sent)
    assert sent == encode_event(update)
    assert sent["event_id"] == "dev_1"
    assert events == [SessionCreated(session_id=""), SpeechStarted("item_u1", 120)]
    assert link.close_code == 1000
    assert all(isinstance(f, str) for _, f in frames)  # the frames as text, as on the wire
    assert [json.loads(f) for d, f in frames if d == "client"] == [sent]
    assert [json.loads(f)["type"] for d, f in frames if d == "server"] == [
        "session.created",
        "input_audio_buffer.speech_started",
    ]
    assert "Authorization" in caplog.text  # the header line was logged...
    assert KEY not in caplog.text  # ...without the key


async def test_model_in_url_is_kept_and_not_repeated() -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.close()

    async with server(script) as (url, seen):
        link = await RealtimeLink.connect(f"{url}?model=gpt-realtime-2.1-mini", MODEL, None)
        await collect(link)
    assert seen.path == "/v1/realtime?model=gpt-realtime-2.1-mini"
    assert seen.authorization is None  # no key: no header (local emulator)


async def test_secret_objects_are_revealed_only_into_the_header() -> None:
    class Secret:
        def reveal(self) -> str:
            return KEY

        def __repr__(self) -> str:
            return "Secret(***)"

    async def script(ws: ServerConnection) -> None:
        await ws.close()

    async with server(script) as (url, seen):
        link = await RealtimeLink.connect(url, MODEL, Secret())
        await collect(link)
    assert seen.authorization == f"Bearer {KEY}"


async def test_a_2_mib_frame_arrives_whole() -> None:
    pcm = bytes(range(256)) * (3 * 1024 * 1024 // 2 // 256)  # 1.5 MiB of PCM
    delta = {
        "type": "response.output_audio.delta",
        "event_id": "ev_big",
        "response_id": "resp_1",
        "item_id": "item_a1",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(pcm).decode(),
    }
    assert_server_event(delta)
    frame = json.dumps(delta)
    assert len(frame) > 2 * 1024 * 1024

    async def script(ws: ServerConnection) -> None:
        await ws.send(frame)
        await ws.close()

    async with server(script) as (url, _):
        link = await RealtimeLink.connect(url, MODEL, KEY)
        events = await collect(link)
    assert events == [AudioDelta("resp_1", "item_a1", 0, pcm)]
    assert link.close_code == 1000


async def test_malformed_frame_is_skipped_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send(created())
        await ws.send('{"type": "response.output_audio.delta", "delta": "' + "A" * 5000)
        await ws.send(speech_started(40))
        await ws.close()

    async with server(script) as (url, _):
        link = await RealtimeLink.connect(url, MODEL, KEY)
        with caplog.at_level(logging.WARNING, logger="device.realtime.link"):
            events = await collect(link)

    assert events == [SessionCreated(session_id=""), SpeechStarted("item_u1", 40)]
    assert link.malformed == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "not valid JSON" in message and "\n" not in message and len(message) < 250


def _skip_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "device.realtime.link" and "malformed" in r.getMessage()
    ]


def _folded(line: str) -> int:
    """How many skipped frames a log line stands for (itself, or its count)."""
    if line.endswith(" more like it"):
        return int(line.rsplit(":", 1)[1].split()[0])
    if line.endswith(" more like it before this)"):
        return 1 + int(line.rsplit("(", 1)[1].split()[0])
    return 1


async def test_a_flood_of_malformed_frames_is_one_line_and_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad: list[str | bytes] = [
        "{not json",
        '{"type": 7}',
        b'{"type": "\xff"}',
        '{"type": "response.created", "response": "r"}',
        "[" * 1000,
    ]
    flood = [bad[i % len(bad)] for i in range(2000)]

    async def script(ws: ServerConnection) -> None:
        for frame in flood:
            await ws.send(frame)
        await ws.send(speech_started(60))
        await ws.close()

    async with server(script) as (url, _):
        link = await RealtimeLink.connect(url, MODEL, KEY)
        with caplog.at_level(logging.INFO, logger="device.realtime.link"):
            events = await collect(link)

    assert events == [SpeechStarted("item_u1", 60)]  # the valid event still arrives
    assert link.malformed == 2000
    lines = _skip_lines(caplog)
    assert 2 <= len(lines) <= 3  # the first one shown, the rest counted
    assert "not valid JSON" in lines[0]
    assert lines[-1].endswith("more like it")
    assert sum(_folded(line) for line in lines) == 2000
    assert all("\n" not in line and len(line) < 300 for line in lines)


async def test_a_frame_nested_100000_deep_does_not_end_the_reader(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send("[" * 100_000 + "]" * 100_000)
        await ws.send('{"type": "error", "error": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001)
        await ws.send(speech_started(80))
        await ws.close()

    async with server(script) as (url, _):
        link = await RealtimeLink.connect(url, MODEL, KEY)
        with caplog.at_level(logging.WARNING, logger="device.realtime.link"):
            events = await collect(link)

    assert events == [SpeechStarted("item_u1", 80)]
    assert link.malformed == 2
    assert link.close_code == 1000
    lines = _skip_lines(caplog)
    assert "nested too deeply" in lines[0] and len(lines[0]) < 300
    assert sum(_folded(line) for line in lines) == 2


async def test_a_binary_frame_is_decoded_like_text() -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send(speech_started(10).encode())
        await ws.close()

    frames: list[tuple[str, str | bytes]] = []
    async with server(script) as (url, _):
        link = await RealtimeLink.connect(
            url, MODEL, KEY, on_frame=lambda d, f: frames.append((d, f))
        )
        events = await collect(link)
    assert events == [SpeechStarted("item_u1", 10)]
    assert frames == [("server", speech_started(10).encode())]


async def test_a_transcript_with_half_a_surrogate_pair_can_be_sent_back() -> None:
    # restoring context after a reconnect sends the server's own words back as UTF-8 text
    done = (
        '{"type": "response.output_audio_transcript.done", "event_id": "ev_t",'
        ' "response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0,'
        ' "transcript": "Second floor \\ud83d"}'
    )
    assert_server_event(json.loads(done))
    got = asyncio.get_running_loop().create_future()

    async def script(ws: ServerConnection) -> None:
        await ws.send(done)
        got.set_result(await ws.recv())
        await ws.close()

    async with server(script) as (url, _):
        link = await RealtimeLink.connect(url, MODEL, KEY)
        async with asyncio.timeout(10):
            async for event in link.events():
                assert isinstance(event, TranscriptDone)
                await link.send(AddTextItem("assistant", event.text))
    item = json.loads(got.result())
    assert_client_event(item)
    assert item["item"]["content"][0]["text"] == "Second floor \ufffd"


async def test_abnormal_close_ends_events_with_its_code() -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send(created())
        await ws.close(code=1011, reason="internal error")

    async with server(script) as (url, _):
        link = await RealtimeLink.connect(url, MODEL, KEY)
        events = await collect(link)
    assert events == [SessionCreated(session_id="")]
    assert (link.close_code, link.close_reason) == (1011, "internal error")


async def test_close_is_idempotent_and_send_after_close_fails_in_one_line() -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with server(script) as (url, _):
        link = await RealtimeLink.connect(url, MODEL, KEY)
        await link.close()
        await link.close()
        assert link.close_code == 1000
        with pytest.raises(LinkError) as info:
            await link.send(RequestReply(event_id="dev_9"))
    assert "cannot send 'response.create'" in str(info.value)
    assert "\n" not in str(info.value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port = _free_port()
    with pytest.raises(LinkError) as info:
        await RealtimeLink.connect(f"ws://127.0.0.1:{port}/v1/realtime", MODEL, KEY)
    assert str(info.value) == f"cannot reach ws://127.0.0.1:{port}/v1/realtime: connection refused"
    assert KEY not in caplog.text


async def test_http_401_is_a_one_line_link_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def reject(ws: ServerConnection, request: Request) -> Response:
        return ws.respond(HTTPStatus.UNAUTHORIZED, "Incorrect API key provided.\n")

    async def script(ws: ServerConnection) -> None:  # never reached
        raise AssertionError("handshake should have been refused")

    async with server(script, process_request=reject) as (url, seen):
        with pytest.raises(LinkError) as info:
            await RealtimeLink.connect(url, MODEL, KEY)
    message = str(info.value)
    assert message.startswith("server rejected the connection: HTTP 401")
    assert "\n" not in message
    assert KEY not in caplog.text and KEY not in message
    assert seen.path is None


async def test_handshake_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # read the request, answer nothing until the client gives up
        writer.close()

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        with pytest.raises(LinkError) as info:
            await RealtimeLink.connect(f"ws://127.0.0.1:{port}/x", MODEL, KEY, timeout_s=0.3)
    assert str(info.value) == (
        f"no handshake answer in 0.3 s from ws://127.0.0.1:{port}/x (it accepted the connection)"
    )


async def test_bad_url_is_a_link_error() -> None:
    with pytest.raises(LinkError) as info:
        await RealtimeLink.connect("https://api.openai.com/v1/realtime", MODEL, KEY)
    assert "invalid realtime url" in str(info.value)
    assert KEY not in str(info.value)
