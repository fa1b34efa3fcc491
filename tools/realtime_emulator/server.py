"""The emulator's network side: a websockets server on loopback, one session per connection.

Example (in a test, same event loop)::

    async with Emulator(Scenario.from_dict({"turns": [...]}), on_event=validate) as emu:
        ...connect to emu.url, talk...
        await emu.wait_for_event("server", "response.done")

``on_event(direction, event)`` sees every client event received and every server event sent.
The live server's ``session.id``, ``session.object`` and ``session.expires_at`` (sent in
``session.created``/``updated``, absent from the openai types) are on the wire and in
``sent`` but left out of the copy given to ``on_event``, so a strict validator accepts it.
An exception raised by ``on_event`` closes that connection (1011) and is raised again when
the ``async with`` block ends (and by ``wait_for``), so a validator failure fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tools.realtime_emulator.events import LIVE_ONLY_SESSION_FIELDS
from tools.realtime_emulator.player import play
from tools.realtime_emulator.scenario import Fault, Scenario
from tools.realtime_emulator.session import Fire, RealtimeSession, Send, Stream
from tools.realtime_emulator.vad import BYTES_PER_MS

log = logging.getLogger(__name__)

EventHook = Callable[[str, dict[str, Any]], None]
PATH = "/v1/realtime"
DEFAULT_MODEL = "gpt-realtime"


class _HookFailed(Exception):
    """on_event raised; the connection is closed and the error kept for the test."""


class Emulator:
    """A local Realtime server speaking the GA protocol, driven by a `Scenario`."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        latency_ms: int = 0,
        max_session_s: float | None = None,
        on_event: EventHook | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.scenario = scenario
        self.latency_ms = latency_ms
        self.max_session_s = max_session_s
        self.on_event = on_event
        self.host = host
        self.port = port
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.sessions = 0
        self.failures: list[BaseException] = []
        self._input_bytes = 0
        self._server: Server | None = None
        self._waiters: list[asyncio.Future[None]] = []

    # ---- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.stop()
        if exc is None and self.failures:
            raise self.failures[0]

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._check_request,
            max_size=None,
            logger=logging.getLogger("tools.realtime_emulator.websockets"),
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        log.info("listening on ws://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # ---- what tests look at -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{PATH}"

    @property
    def audio_received_ms(self) -> float:
        """Total ms of input audio appended, over all sessions."""
        return self._input_bytes / BYTES_PER_MS

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        """Return once ``condition()`` holds (checked on every event); TimeoutError if not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.failures:
                raise self.failures[0]
            if condition():
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                tail = [e.get("type") for e in self.sent[-8:]]
                raise TimeoutError(f"condition not met within {timeout} s; last sent: {tail}")
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, remaining)

    async def wait_for_event(
        self, direction: str, type: str, *, n: int = 1, timeout: float = 10
    ) -> dict[str, Any]:
        """The ``n``-th event of ``type`` sent ("server") or received ("client")."""
        events = self.sent if direction == "server" else self.received

        def found() -> list[dict[str, Any]]:
            return [e for e in events if e.get("type") == type]

        try:
            await self.wait_for(lambda: len(found()) >= n, timeout)
        except TimeoutError:
            raise TimeoutError(f"no {direction} event {type!r} (#{n}) within {timeout} s") from None
        return found()[n - 1]

    def of_type(self, direction: str, type: str) -> list[dict[str, Any]]:
        """All events of ``type`` so far, sent ("server") or received ("client")."""
        events = self.sent if direction == "server" else self.received
        return [e for e in events if e.get("type") == type]

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def _record(self, direction: str, event: dict[str, Any]) -> None:
        (self.sent if direction == "server" else self.received).append(event)
        try:
            if self.on_event is not None:
                self.on_event(direction, _for_hook(event))
        except Exception as exc:
            self.failures.append(exc)
            raise _HookFailed(str(exc)) from None
        finally:
            self._notify()

    # ---- connections --------------------------------------------------------------------

    def _check_request(self, ws: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path.rstrip("/") != PATH:
            return ws.respond(HTTPStatus.NOT_FOUND, f"Not found: the Realtime API is at {PATH}\n")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth.removeprefix("Bearer ").strip():
            msg = "Missing bearer authentication in header: send 'Authorization: Bearer KEY'.\n"
            return ws.respond(HTTPStatus.UNAUTHORIZED, msg)
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self.sessions += 1
        number = self.sessions
        log.info("session %d opened", number)
        conn = _Connection(self, ws, number)
        try:
            await conn.run()
        except _HookFailed as exc:
            log.error("session %d: event hook failed: %s", number, exc)
            await ws.close(1011, "emulator: event hook failed")
        finally:
            conn.cancel_tasks()
            self._notify()
            log.info("session %d closed", number)


def _for_hook(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("type") in ("session.created", "session.updated") and "session" in event:
        event = copy.deepcopy(event)
        for key in LIVE_ONLY_SESSION_FIELDS:
            event["session"].pop(key, None)
    return event


class _Connection:
    """One connection: reads client events, runs responses and faults, sends events."""

    def __init__(self, emu: Emulator, ws: ServerConnection, number: int) -> None:
        self.emu = emu
        self.ws = ws
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        model = query.get("model", [DEFAULT_MODEL])[0] or DEFAULT_MODEL
        self.session = RealtimeSession(emu.scenario, model=model, session_no=number)
        self.tasks: set[asyncio.Task[None]] = set()
        self._open = asyncio.Event()
        self._open.set()

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is None:
            return
        if not isinstance(exc, _HookFailed):
            log.error("emulator bug: %s", exc, exc_info=exc)
            self.emu.failures.append(exc)
        self.spawn(self.ws.close(1011, "emulator: internal error"))

    def cancel_tasks(self) -> None:
        for task in list(self.tasks):
            task.cancel()

    async def send(self, event: dict[str, Any]) -> None:
        await self._open.wait()
        self.emu._record("server", event)
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(event))

    async def fault(self, fault: Fault) -> bool:
        if fault.error_code is not None:
            await self.send(
                self.session.error(fault.error_code, fault.error_message, type=fault.error_type)
            )
        elif fault.malformed is not None:
            log.info("fault: sending a malformed frame")
            with contextlib.suppress(ConnectionClosed):
                await self.ws.send(fault.malformed)
        elif fault.stall_ms:
            log.info("fault: stalling for %d ms", fault.stall_ms)
            self._open.clear()
            await asyncio.sleep(fault.stall_ms / 1000)
            self._open.set()
        elif fault.drop:
            log.info("fault: dropping the connection")
            self.ws.transport.abort()
            return False
        return True

    async def _later(self, delay_s: float, fault: Fault) -> None:
        await asyncio.sleep(delay_s)
        await self.fault(fault)

    async def _expire(self, after_s: float) -> None:
        await asyncio.sleep(after_s)
        msg = f"Your session hit the maximum duration of {after_s:g} seconds."
        await self.send(self.session.error("session_expired", msg))
        await self.ws.close(1001, "session expired")

    async def run(self) -> None:
        ws = self.ws
        await self.send(self.session.opening(time.time()))
        if ws.request is not None and "realtime=v1" in ws.request.headers.get("OpenAI-Beta", ""):
            msg = "The beta Realtime API shape is disabled; use the GA shape."
            await self.send(self.session.error("beta_api_shape_disabled", msg))
            await ws.close(4000, "beta_api_shape_disabled")
            return
        for fault in self.emu.scenario.faults:
            self.spawn(self._later((fault.after_ms or 0) / 1000, fault))
        if self.emu.max_session_s is not None:
            self.spawn(self._expire(self.emu.max_session_s))
        try:
            async for message in ws:
                await self._open.wait()
                await self._on_message(message)
        except ConnectionClosed:
            pass

    async def _on_message(self, message: str | bytes) -> None:
        session = self.session
        try:
            event = json.loads(message)
        except ValueError:
            actions = session.bad_json()
        else:
            if isinstance(event, dict):
                self.emu._record("client", event)
            before = session.input_bytes
            actions = session.receive(event)
            self.emu._input_bytes += session.input_bytes - before
        for action in actions:
            match action:
                case Send(event=out):
                    await self.send(out)
                case Fire(fault=fault):
                    await self.fault(fault)
                case Stream(response_id=rid, plan=plan, created=created):
                    self.spawn(
                        play(self, self.emu.scenario, rid, plan, self.emu.latency_ms, created)
                    )
