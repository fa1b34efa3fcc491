"""Hostile servers on real loopback sockets (issue 26, item 5): a text frame that is not
UTF-8, and a server that accepts TCP but never answers the WebSocket handshake. Each is
named for what it is, in the words the operator reads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from device.conversation.reports import ConversationEnded, ErrorReported
from device.daemon.link_manager import LiveSession, classify_link_failure
from device.realtime.events import ServerEvent, SessionCreated
from device.realtime.link import LinkError, RealtimeLink
from device.retry.attempts import Failure
from tests.helpers import QUESTION, Seen, run_daemon, settings_for
from tests.openai_schema import assert_client_event, assert_server_event
from tools.realtime_emulator import Emulator, Scenario

MODEL = "gpt-realtime-2.1"
CREATED = b'{"type": "session.created", "event_id": "ev_1", "session": {"type": "realtime"}}'
BAD_UTF8 = b'{"type": "session.updated", "note": "\xff\xfe"}'
INVALID_UTF8 = "the link closed: the server sent invalid UTF-8 (1007)"


def validate(direction: str, event: dict[str, Any]) -> None:
    if direction == "client":
        assert_client_event(event)
    else:
        assert_server_event(event)


@asynccontextmanager
async def ws_server(*frames: bytes) -> AsyncIterator[str]:
    """A websockets server that sends ``frames`` as text frames, then waits."""

    async def handler(ws: ServerConnection) -> None:
        for frame in frames:
            await ws.send(frame, text=True)  # the bytes as they are: UTF-8 or not
        await ws.wait_closed()

    quiet = logging.getLogger("tests.realtime.hostile")
    quiet.setLevel(logging.WARNING)
    async with serve(handler, "127.0.0.1", 0, logger=quiet) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime"


async def test_a_text_frame_that_is_not_utf8_ends_the_link_named_as_such(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="device")
    async with ws_server(CREATED, BAD_UTF8) as url:
        link = await RealtimeLink.connect(url, MODEL, None, timeout_s=5)
        got: list[ServerEvent] = []
        async with link:
            with pytest.raises(LinkError) as failed:
                async with asyncio.timeout(5):
                    async for event in link.events():
                        got.append(event)
    assert str(failed.value) == INVALID_UTF8
    assert got == [SessionCreated(session_id="")]  # what came before it still arrived
    assert (link.close_code, link.close_reason) == (1007, "the server sent invalid UTF-8")
    messages = [r.getMessage() for r in caplog.records]
    assert "realtime link closed: the server sent invalid UTF-8 (1007)" in messages
    assert not any("1006" in m for m in messages)
    assert classify_link_failure(failed.value).kind is Failure.SERVER  # worth a new session


async def test_the_session_reader_reports_invalid_utf8_from_the_emulator() -> None:
    """The emulator's `malformed: bad_utf8` fault, read as the daemon reads a session."""
    scenario = Scenario.from_dict({"turns": [{"user": "Hi", "reply": "Hello."}]})
    async with Emulator(scenario, on_event=validate) as emu:
        link = await RealtimeLink.connect(emu.url, MODEL, "test-key-not-a-secret", timeout_s=5)
        session = LiveSession(link)
        created = asyncio.Event()
        ends: list[tuple[str, bool]] = []

        def on_event(event: ServerEvent) -> None:
            if isinstance(event, SessionCreated):
                created.set()

        session.route(on_event, lambda _s, reason, retryable: ends.append((reason, retryable)))
        reader = asyncio.create_task(session.read())
        async with asyncio.timeout(10):
            await created.wait()
            assert await emu.inject({"malformed": "bad_utf8"}) == 1
            await reader
        await link.close()
    assert ends == [(INVALID_UTF8, True)]
    assert session.close_reason == INVALID_UTF8


@pytest.mark.slow
async def test_a_server_that_never_answers_the_handshake_is_named_as_such() -> None:
    accepted = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept the connection, read nothing, answer nothing
        accepted.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        start = time.monotonic()
        with pytest.raises(LinkError) as failed:
            await RealtimeLink.connect(
                f"ws://127.0.0.1:{port}/v1/realtime", MODEL, None, timeout_s=1
            )
        took = time.monotonic() - start
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert accepted.is_set()
    assert str(failed.value) == (
        f"no handshake answer in 1 s from ws://127.0.0.1:{port}/v1/realtime "
        "(it accepted the connection)"
    )
    assert not failed.value.network  # reachable: the server is silent, not the network
    assert classify_link_failure(failed.value).kind is Failure.SERVER
    assert 0.9 < took < 3


async def test_a_port_nobody_listens_on_is_still_the_network() -> None:
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(LinkError) as failed:
        await RealtimeLink.connect(f"ws://127.0.0.1:{port}/v1/realtime", MODEL, None, timeout_s=1)
    assert (
        str(failed.value) == f"cannot reach ws://127.0.0.1:{port}/v1/realtime: connection refused"
    )
    assert failed.value.network


@pytest.mark.slow
async def test_a_visitor_hears_offline_and_the_log_names_the_silent_handshake(
    tmp_path: Path,
) -> None:
    """The daemon end to end: the reason a caller's visit ends on is the link's own (no
    handshake answer), not a bare "the server did not set up the session"."""
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    seen = Seen()
    try:
        settings = settings_for(tmp_path, QUESTION, connect_timeout_s=1.0, standby=False)
        url = f"ws://127.0.0.1:{port}/v1/realtime"

        async def connect() -> RealtimeLink:  # as `voice-kiosk run` connects
            return await RealtimeLink.connect(url, MODEL, "key", timeout_s=1.0)

        await run_daemon(settings, connect=connect, sinks=[seen])
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    [ended] = [r for r in seen.reports if isinstance(r, ConversationEnded)]
    assert "no handshake answer in 1 s" in ended.reason, ended.reason
    assert not [
        r for r in seen.reports if isinstance(r, ErrorReported) and r.code == "session_setup"
    ]
