"""The metrics port: a small HTTP/1.1 server on the daemon's event loop (asyncio), made for
Prometheus' one GET every 15 to 60 s (and a ``curl``).

- ``GET /metrics`` (a query string is ignored): 200 and the text format 0.0.4, rendered on
  the loop at that moment (tens of µs: device/metrics/exposition.py); the connection is
  kept for the next scrape (HTTP/1.1, unless the client says ``Connection: close``).
- Another path: 404; another method: 405; a malformed request, or one with a body: 400; a
  request head over `MAX_HEAD_BYTES`: 431. Each of those closes the connection.
- Nothing waits on a client for long: a request's head must arrive within
  `REQUEST_DEADLINE_S` (a kept connection may wait `IDLE_S` for its next request's first
  byte), the answer must be taken within `WRITE_DEADLINE_S`, and at most `MAX_CONNECTIONS`
  are open at once (more are closed at once). None of it blocks the loop: the reads and the
  write wait in the connection's own task.

Example::

    endpoint = MetricsEndpoint(exposition.render)
    await endpoint.start("127.0.0.1", 9464)     # OSError when the port is taken
    endpoint.port                               # 9464 (the one bound, for port 0)
    await endpoint.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from device.metrics.exposition import CONTENT_TYPE

log = logging.getLogger(__name__)

PATH = "/metrics"
MAX_HEAD_BYTES = 8192
MAX_CONNECTIONS = 8
REQUEST_DEADLINE_S = 5.0
IDLE_S = 120.0  # longer than Prometheus' usual interval: its connection is kept
WRITE_DEADLINE_S = 10.0
TEXT = "text/plain; charset=utf-8"


class BadRequest(Exception):
    """A request answered with an error status, then the connection closed."""

    def __init__(self, status: str, extra: str = "") -> None:
        super().__init__(status)
        self.status = status
        self.extra = extra  # header lines, each ending in CRLF


class MetricsEndpoint:
    """See the module docstring."""

    def __init__(self, render: Callable[[], bytes]) -> None:
        self.render = render
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._date = (0, "")  # (second, its HTTP date)
        self.failures = 0  # answers that could not be rendered

    @property
    def port(self) -> int | None:
        """The port bound (None: not serving)."""
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(
            self._connection, host, port, limit=MAX_HEAD_BYTES
        )

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await server.wait_closed()

    # -- one connection --------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._connections) >= MAX_CONNECTIONS:
            writer.transport.abort()
            return
        self._connections.add(task)
        try:
            wait_s = REQUEST_DEADLINE_S
            while True:
                try:
                    head = await self._head(reader, wait_s)
                    if head is None:
                        return
                    keep = self._check(head)
                    answer = self._answer("200 OK", CONTENT_TYPE, self._body(), keep)
                except BadRequest as bad:
                    keep = False
                    body = (bad.status + "\n").encode()
                    answer = self._answer(bad.status, TEXT, body, False, bad.extra)
                writer.write(answer)
                async with asyncio.timeout(WRITE_DEADLINE_S):
                    await writer.drain()
                if not keep:
                    return
                wait_s = IDLE_S
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return  # the client went away, or was too slow
        finally:
            self._connections.discard(task)
            writer.close()

    async def _head(self, reader: asyncio.StreamReader, wait_s: float) -> bytes | None:
        """The next request's head, up to its empty line (None: the client closed first)."""
        async with asyncio.timeout(wait_s):
            first = await reader.read(1)
        if not first:
            return None
        async with asyncio.timeout(REQUEST_DEADLINE_S):
            try:
                return first + await reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                raise BadRequest("431 Request Header Fields Too Large") from None

    def _check(self, head: bytes) -> bool:
        """Whether to keep the connection after a GET /metrics; BadRequest otherwise."""
        request, *lines = head.decode("latin-1").split("\r\n")
        parts = request.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest("400 Bad Request")
        method, target, version = parts
        headers = {}
        for line in lines:
            if line:
                name, sep, value = line.partition(":")
                if not sep:
                    raise BadRequest("400 Bad Request")
                headers[name.strip().lower()] = value.strip().lower()
        if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
            raise BadRequest("400 Bad Request")  # a GET has no body, and we read none
        if target.split("?", 1)[0] != PATH:
            raise BadRequest("404 Not Found")
        if method != "GET":
            raise BadRequest("405 Method Not Allowed", "Allow: GET\r\n")
        return version == "HTTP/1.1" and "close" not in headers.get("connection", "")

    def _body(self) -> bytes:
        try:
            return self.render()
        except Exception:
            self.failures += 1
            if self.failures == 1:
                log.exception("the metrics could not be rendered; answering 500")
            raise BadRequest("500 Internal Server Error") from None

    def _answer(self, status: str, content_type: str, body: bytes, keep: bool,
                extra: str = "") -> bytes:  # fmt: skip
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, usegmt=True))
        close = "" if keep else "Connection: close\r\n"
        head = (
            f"HTTP/1.1 {status}\r\nDate: {self._date[1]}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}{close}\r\n"
        )
        return head.encode("latin-1") + body
