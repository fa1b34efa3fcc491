"""The metrics port on the event loop: GET /metrics on a kept connection, every other
request answered and closed, slow or extra clients dropped, nothing left open at close."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import pytest

from device.conversation.reports import ConversationStarted
from device.metrics import endpoint as endpoint_mod
from device.metrics.endpoint import MAX_HEAD_BYTES, MetricsEndpoint
from device.metrics.exposition import CONTENT_TYPE
from device.metrics.service import MetricsService
from device.metrics.settings import MetricsSettings
from device.services.ports import Health, Stats
from device.services.triggers import Trigger


class Body:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> bytes:
        self.n += 1
        return f"scrape {self.n}\n".encode()


@pytest.fixture
async def served() -> AsyncIterator[tuple[MetricsEndpoint, Body]]:
    body = Body()
    endpoint = MetricsEndpoint(body)
    await endpoint.start("127.0.0.1", 0)
    yield endpoint, body
    await endpoint.close()


async def ask(
    endpoint: MetricsEndpoint, request: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    assert endpoint.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", endpoint.port)
    writer.write(request)
    return reader, writer


async def answer(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode()
    status, *lines = head.strip().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    body = await reader.readexactly(int(headers["content-length"]))
    return status, headers, body


async def closed(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(), 5) == b""


GET = b"GET /metrics HTTP/1.1\r\nHost: kiosk\r\nAccept: */*\r\n\r\n"


async def test_get_metrics_on_a_kept_connection(served: tuple[MetricsEndpoint, Body]) -> None:
    endpoint, _ = served
    reader, writer = await ask(endpoint, GET)
    status, headers, body = await answer(reader)
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-type"] == CONTENT_TYPE
    assert "connection" not in headers and headers["date"].endswith("GMT")
    assert body == b"scrape 1\n"
    writer.write(b"GET /metrics?name[]=x HTTP/1.1\r\nConnection: close\r\n\r\n")
    status, headers, body = await answer(reader)  # rendered again: the figures of now
    assert (status, headers["connection"], body) == ("HTTP/1.1 200 OK", "close", b"scrape 2\n")
    assert await closed(reader)
    writer.close()


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "404 Not Found"),
        (b"GET /favicon.ico HTTP/1.1\r\n\r\n", "404 Not Found"),
        (b"DELETE /metrics HTTP/1.1\r\n\r\n", "405 Method Not Allowed"),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "400 Bad Request"),
        (b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "400 Bad Request"),
        (b"hello\r\n\r\n", "400 Bad Request"),
        (b"GET /metrics SPDY/3\r\n\r\n", "400 Bad Request"),
        (b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", "400 Bad Request"),
        (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * MAX_HEAD_BYTES, "431 Request Header"),
    ],
)
async def test_anything_else_is_answered_and_closed(
    served: tuple[MetricsEndpoint, Body], request_: bytes, status: str
) -> None:
    endpoint, body = served
    reader, writer = await ask(endpoint, request_)
    got, headers, _ = await answer(reader)
    assert got.startswith("HTTP/1.1 " + status)
    assert headers["connection"] == "close"
    assert await closed(reader)
    assert body.n == 0  # nothing rendered
    if status.startswith("405"):
        assert headers["allow"] == "GET"
    writer.close()


async def test_http_1_0_is_answered_then_closed(served: tuple[MetricsEndpoint, Body]) -> None:
    endpoint, _ = served
    reader, writer = await ask(endpoint, b"GET /metrics HTTP/1.0\r\n\r\n")
    status, _, body = await answer(reader)
    assert (status, body) == ("HTTP/1.1 200 OK", b"scrape 1\n")
    assert await closed(reader)
    writer.close()


async def test_a_slow_or_silent_client_is_dropped(
    served: tuple[MetricsEndpoint, Body], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, _ = served
    monkeypatch.setattr(endpoint_mod, "REQUEST_DEADLINE_S", 0.2)
    monkeypatch.setattr(endpoint_mod, "IDLE_S", 0.3)
    silent, w1 = await ask(endpoint, b"")
    trickle, w2 = await ask(endpoint, b"GET /metr")  # a head that never ends
    kept, w3 = await ask(endpoint, GET)
    await answer(kept)  # then says nothing more
    for reader in (silent, trickle, kept):
        assert await closed(reader)
    for w in (w1, w2, w3):
        w.close()


async def test_connections_beyond_the_limit_are_closed_at_once(
    served: tuple[MetricsEndpoint, Body], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, _ = served
    monkeypatch.setattr(endpoint_mod, "MAX_CONNECTIONS", 2)
    held = [await ask(endpoint, GET) for _ in range(2)]
    for reader, _ in held:
        await answer(reader)
    extra, w = await ask(endpoint, GET)
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await answer(extra)
    w.close()
    writer = held[0][1]
    writer.close()  # one goes: room for another
    await asyncio.sleep(0.05)
    reader, writer = await ask(endpoint, GET)
    assert (await answer(reader))[0] == "HTTP/1.1 200 OK"
    for _, w in [*held, (reader, writer)]:
        w.close()


async def test_a_failing_render_is_a_500_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> bytes:
        raise RuntimeError("oops")

    endpoint = MetricsEndpoint(broken)
    await endpoint.start("127.0.0.1", 0)
    for _ in range(2):
        reader, writer = await ask(endpoint, GET)
        assert (await answer(reader))[0] == "HTTP/1.1 500 Internal Server Error"
        writer.close()
    await endpoint.close()
    assert endpoint.failures == 2
    assert len([r for r in caplog.records if "could not be rendered" in r.message]) == 1


async def test_close_ends_kept_connections_and_frees_the_port(
    served: tuple[MetricsEndpoint, Body],
) -> None:
    endpoint, _ = served
    port = endpoint.port
    reader, writer = await ask(endpoint, GET)
    await answer(reader)
    await endpoint.close()
    assert endpoint.port is None
    assert await closed(reader)
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


class Ports:
    def now_ms(self) -> float:
        return 5000.0

    def stats(self) -> Stats:
        return Stats(state="idle", audio_sent_chunks=50)

    def health(self) -> Health:
        return Health(None, 0.0, 0.0, True)

    def trigger(self, trigger: Trigger) -> None:
        pass


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as got:
            return got.status, got.headers["Content-Type"], got.read()
    except urllib.error.HTTPError as error:
        return error.code, "", b""


@pytest.mark.slow
async def test_the_service_serves_its_scrape_on_the_loop() -> None:
    service = MetricsService(MetricsSettings(enabled=True, port=0), chunk_ms=40.0)
    service.report(0.0, ConversationStarted("conv-1", "button"))
    task = asyncio.create_task(service.run(Ports()))
    while service.port is None:
        await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{service.port}"
    status, kind, body = await asyncio.to_thread(fetch, base + "/metrics")
    assert (status, kind) == (200, CONTENT_TYPE)
    assert body == service.scrape()
    assert b'voice_kiosk_conversations_started_total{source="button"} 1.0\n' in body
    assert b"voice_kiosk_audio_in_seconds_total 2.0\n" in body  # 50 chunks of 40 ms
    assert (await asyncio.to_thread(fetch, base + "/"))[0] == 404
    await service.close()
    assert service.port is None
    await asyncio.wait_for(task, 3)  # run() returns once closed
