"""One WebSocket connection of the emulator: read client events, run responses, apply faults.

A reader task moves every client frame into an inbox as soon as it arrives (so websockets
keeps answering pings while the session is stalled); the handler takes them from the inbox
in order, runs them through the pure `RealtimeSession` and sends what it returns. Responses
play in their own tasks (`player`). ``fault`` applies one fault (`faults`); scripted faults
are skipped while the emulator's ``scripted`` switch is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from tools.realtime_emulator import events as ev
from tools.realtime_emulator.faults import (
    ClockFault,
    Close,
    Expire,
    Fault,
    Malformed,
    RateLimits,
    SendError,
    Stall,
    StallResponse,
    UnknownEvent,
    malformed_frame,
)
from tools.realtime_emulator.player import play
from tools.realtime_emulator.session import Fire, RealtimeSession, Send, Stream

if TYPE_CHECKING:
    from tools.realtime_emulator.server import Emulator

log = logging.getLogger("tools.realtime_emulator.server")

DEFAULT_MODEL = "gpt-realtime"


class HookFailed(Exception):
    """on_event raised; the connection is closed and the error kept for the test."""


class Connection:
    """One connection. See the module docstring."""

    def __init__(self, emu: Emulator, ws: ServerConnection, number: int) -> None:
        self.emu = emu
        self.ws = ws
        self.number = number
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        model = query.get("model", [DEFAULT_MODEL])[0] or DEFAULT_MODEL
        self.session = RealtimeSession(emu.scenario, model=model, session_no=number)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.hung: set[str] = set()  # responses stalled by stall_response
        self._done_sent: set[str] = set()  # responses whose response.done went out
        self._open = asyncio.Event()  # cleared while stalled
        self._open.set()
        self._stalls = 0
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()

    # ---- tasks --------------------------------------------------------------------------

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is None:
            return
        if not isinstance(exc, HookFailed):
            log.error("emulator bug: %s", exc, exc_info=exc)
            self.emu.failures.append(exc)
        self.spawn(self.ws.close(1011, "emulator: internal error"))

    def cancel_tasks(self) -> None:
        for task in list(self.tasks):
            task.cancel()

    # ---- sending ------------------------------------------------------------------------

    def live(self, response_id: str) -> bool:
        """The response may go on: active, not hung, the socket open."""
        return (
            self.session.is_active(response_id)
            and response_id not in self.hung
            and self.ws.state is State.OPEN
        )

    async def send(self, event: dict[str, Any]) -> None:
        """Send a server event (seen by ``on_event``); nothing once the socket is closing,
        and nothing of a response after its ``response.done`` (a piece made before a stall
        and sent after it, when the response was cancelled meanwhile, as a server would not)."""
        await self._open.wait()
        if self.ws.state is not State.OPEN:
            return
        rid = event.get("response_id")
        if event.get("type") == "response.done":
            rid = str((event.get("response") or {}).get("id"))
            if rid in self._done_sent:
                return
            self._done_sent.add(rid)
        elif rid in self._done_sent:
            log.debug("not sending %s of %s: the response is done", event.get("type"), rid)
            return
        self.emu.record("server", event)
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(event))

    async def _send_raw(self, frame: str | bytes, text: bool) -> None:
        """A frame that is not a valid event (not shown to ``on_event``)."""
        await self._open.wait()
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(frame, text=text)

    # ---- faults -------------------------------------------------------------------------

    async def fault(self, fault: Fault, *, scripted: bool = True) -> bool:
        """Apply ``fault``; False when the response being played must stop."""
        if scripted and not self.emu.switches.scripted:
            return True
        self.emu.note_fired(self.number, fault)
        match fault:
            case SendError():
                eid = fault.event_id
                if fault.answers is not None:
                    eid = self.session.last_event_ids.get(fault.answers)
                err = self.session.error(
                    fault.code, fault.message, type=fault.type, param=fault.param, event_id=eid
                )
                await self.send(err)
            case Close(code=1006):
                log.info("fault: dropping the connection (no close frame)")
                self.ws.transport.abort()
                return False
            case Close():
                log.info("fault: closing with %d", fault.code)
                await self.ws.close(fault.code, fault.reason)
                return False
            case Stall():
                await self._stall(fault)
            case StallResponse():
                active = self.session.responses.active
                if active is not None:
                    log.info("fault: response %s sends nothing more", active.id)
                    self.hung.add(active.id)
                return False
            case Malformed():
                frame, text = malformed_frame(fault)
                await self._send_raw(frame, text)
            case UnknownEvent():
                event = self.session.stamp({"type": fault.type, "detail": "not in the GA API"})
                await self._send_raw(json.dumps(event), True)
            case RateLimits():
                limits = ev.rate_limits(fault.exhausted, fault.reset_seconds)
                await self.send(
                    self.session.stamp({"type": "rate_limits.updated", "rate_limits": limits})
                )
            case Expire():
                await self.expire("Your session hit the maximum duration of 60 minutes.")
                return False
        return True

    async def _stall(self, stall: Stall) -> None:
        what = "until healed" if stall.ms is None else f"for {stall.ms} ms"
        pings = "answered" if stall.pings else "not answered"
        log.info("fault: stalling %s, pings %s", what, pings)
        self._stalls += 1
        self._open.clear()
        paused = not stall.pings and not self.ws.transport.is_closing()
        if paused:
            self.ws.transport.pause_reading()
        try:
            await self.emu.until_healed(None if stall.ms is None else stall.ms / 1000)
        finally:
            if paused and not self.ws.transport.is_closing():
                self.ws.transport.resume_reading()
            self._stalls -= 1
            if self._stalls == 0:
                self._open.set()

    async def expire(self, message: str) -> None:
        """Error ``session_expired``, then close 1001."""
        await self.send(self.session.error("session_expired", message))
        await self.ws.close(1001, "session expired")

    async def _clock(self, timed: ClockFault) -> None:
        await asyncio.sleep(timed.after_ms / 1000)
        await self.fault(timed.fault)

    async def _expire_after(self, after_s: float) -> None:
        await asyncio.sleep(after_s)
        await self.expire(f"Your session hit the maximum duration of {after_s:g} seconds.")

    # ---- the connection's life ----------------------------------------------------------

    async def run(self) -> None:
        ws = self.ws
        delay_ms = self.emu.switches.created_delay_ms
        if delay_ms:
            log.info("fault: holding session.created back %d ms", delay_ms)
            await self.emu.until_healed(delay_ms / 1000)
        await self.send(self.session.opening(time.time()))
        if ws.request is not None and "realtime=v1" in ws.request.headers.get("OpenAI-Beta", ""):
            msg = "The beta Realtime API shape is disabled; use the GA shape."
            await self.send(self.session.error("beta_api_shape_disabled", msg))
            await ws.close(4000, "beta_api_shape_disabled")
            return
        for timed in self.emu.scenario.faults:
            self.spawn(self._clock(timed))
        if self.emu.max_session_s is not None:
            self.spawn(self._expire_after(self.emu.max_session_s))
        handler = self.spawn(self._handle_inbox())
        try:
            async for message in ws:
                self._inbox.put_nowait(message)
        except ConnectionClosed:
            pass
        self._inbox.put_nowait(None)
        if self._stalls:
            handler.cancel()
        await asyncio.wait([handler])
        failed = None if handler.cancelled() else handler.exception()
        if isinstance(failed, HookFailed):
            raise failed

    async def _handle_inbox(self) -> None:
        while (message := await self._inbox.get()) is not None:
            await self._open.wait()
            await self._on_message(message)

    async def _on_message(self, message: str | bytes) -> None:
        session = self.session
        try:
            event = json.loads(message)
        except (ValueError, RecursionError):
            actions = session.bad_json()
        else:
            if isinstance(event, dict):
                self.emu.record("client", event)
            before = session.input_bytes
            actions = session.receive(event)
            self.emu.add_input_bytes(session.input_bytes - before)
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
