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

Faults at run time (see `faults` and `switches`)::

    emu.configure(refuse=503, refuse_times=2)   # handshake switches, for new connections
    await emu.inject({"close": 1011})          # one fault now, on every open connection
    emu.heal()                                 # healthy again: switches off, scripted
                                               # faults off, stalls released

``emu.fired`` lists every fault applied (session number, kind, the fault), ``emu.refused``
counts refused handshakes and ``emu.open_connections`` the sockets open now. Frames broken on
purpose (``malformed``, ``unknown_event``) go out raw: they are not in ``sent`` and not shown
to ``on_event``. A subprocess emulator takes the same calls over HTTP on its own port
(`control`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from tools.realtime_emulator.connection import Connection, HookFailed
from tools.realtime_emulator.control import CONTROL_PATH, control
from tools.realtime_emulator.events import LIVE_ONLY_SESSION_FIELDS
from tools.realtime_emulator.faults import Fault, kind_of, parse_fault
from tools.realtime_emulator.scenario import Scenario
from tools.realtime_emulator.switches import Switches
from tools.realtime_emulator.vad import BYTES_PER_MS

log = logging.getLogger(__name__)

EventHook = Callable[[str, dict[str, Any]], None]
PATH = "/v1/realtime"
_REFUSALS = {
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You do not have access to this model.", "invalid_request_error", "permission_denied"),
    429: ("Rate limit reached. Please try again later.", "requests", "rate_limit_exceeded"),
}


@dataclass(frozen=True)
class Fired:
    """A fault the emulator applied: on which session, its kind (``close``, ...), itself."""

    session: int
    kind: str
    fault: Fault


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
        self.switches = Switches()
        self.switches.update(scenario.connection)
        self.fired: list[Fired] = []
        self.refused = 0  # handshakes refused by the refuse switch
        self._input_bytes = 0
        self._server: Server | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._connections: dict[int, Connection] = {}
        self._heal = asyncio.Event()

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
            ping_interval=None,  # the emulator sends no pings (a stall sends nothing)
            open_timeout=None,  # handshake_delay_ms may be long
            logger=logging.getLogger("tools.realtime_emulator.websockets"),
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        log.info("listening on ws://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        self._release()
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

    @property
    def open_connections(self) -> int:
        """Connections open now (the WebSocket handler is running)."""
        return len(self._connections)

    # ---- faults at run time -------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change handshake switches (see `Switches`); ScenarioError if a value is bad."""
        self.switches.update(changes, "configure")

    async def inject(self, fault: Fault | dict[str, Any], *, session: int | None = None) -> int:
        """Apply ``fault`` now on every open connection (or session number ``session``).

        ``fault`` is a `Fault` or a mapping as in a scenario, e.g. ``{"close": 1011}``.
        Returns how many connections got it; it is applied in the background (a stall
        does not block the caller).
        """
        f = parse_fault(fault, "inject") if isinstance(fault, dict) else fault
        hit = [c for n, c in self._connections.items() if session in (None, n)]
        for conn in hit:
            conn.spawn(conn.fault(f, scripted=False))
        return len(hit)

    def heal(self) -> None:
        """Healthy from now on: switches off, scripted faults and expiry off, stalls end."""
        self.switches = Switches(scripted=False)
        self.max_session_s = None
        self._release()
        log.info("healed: faults off")

    def _release(self) -> None:
        self._heal.set()
        self._heal = asyncio.Event()

    async def until_healed(self, timeout_s: float | None) -> None:
        """Sleep ``timeout_s`` (None: forever), cut short by ``heal`` or ``stop``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._heal.wait(), timeout_s)

    def note_fired(self, session: int, fault: Fault) -> None:
        self.fired.append(Fired(session, kind_of(fault), fault))
        self._notify()

    def add_input_bytes(self, n: int) -> None:
        self._input_bytes += n

    def record(self, direction: str, event: dict[str, Any]) -> None:
        (self.sent if direction == "server" else self.received).append(event)
        try:
            if self.on_event is not None:
                self.on_event(direction, _for_hook(event))
        except Exception as exc:
            self.failures.append(exc)
            raise HookFailed(str(exc)) from None
        finally:
            self._notify()

    # ---- connections --------------------------------------------------------------------

    async def _check_request(self, ws: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path.rstrip("/")
        if path.startswith(CONTROL_PATH):
            status, body = await control(self, request.path)
            return _json(ws, status, body)
        if path != PATH:
            return ws.respond(HTTPStatus.NOT_FOUND, f"Not found: the Realtime API is at {PATH}\n")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth.removeprefix("Bearer ").strip():
            msg = "Missing bearer authentication in header: send 'Authorization: Bearer KEY'.\n"
            return ws.respond(HTTPStatus.UNAUTHORIZED, msg)
        if self.switches.handshake_delay_ms:
            log.info("fault: holding the handshake %d ms", self.switches.handshake_delay_ms)
            await self.until_healed(self.switches.handshake_delay_ms / 1000)
        refusal = self.switches.take_refusal()
        if refusal is None:
            return None
        status = refusal
        self.refused += 1
        self._notify()
        log.info("fault: refusing the handshake with HTTP %d", status)
        message, etype, code = _REFUSALS.get(
            status, ("The server is overloaded or not ready yet.", "server_error", None)
        )
        response = _json(ws, status, {"error": {"message": message, "type": etype, "code": code}})
        if self.switches.retry_after_s is not None:
            response.headers["Retry-After"] = str(self.switches.retry_after_s)
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        self.sessions += 1
        number = self.sessions
        log.info("session %d opened", number)
        conn = Connection(self, ws, number)
        self._connections[number] = conn
        try:
            await conn.run()
        except HookFailed as exc:
            log.error("session %d: event hook failed: %s", number, exc)
            await ws.close(1011, "emulator: event hook failed")
        finally:
            conn.cancel_tasks()
            del self._connections[number]
            self._notify()
            log.info("session %d closed", number)


def _json(ws: ServerConnection, status: int, body: dict[str, Any]) -> Response:
    response = ws.respond(HTTPStatus(status), json.dumps(body) + "\n")
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


def _for_hook(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("type") in ("session.created", "session.updated") and "session" in event:
        event = copy.deepcopy(event)
        for key in LIVE_ONLY_SESSION_FIELDS:
            event["session"].pop(key, None)
    return event
