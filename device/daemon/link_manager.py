"""The link manager: the conversation's session, and a warm standby opened in advance.

One session per visitor (nothing one visitor said reaches the next), opened before they
arrive: while idle the manager holds one standby session, connected and set up
(`session.update` acknowledged). A start takes it at once, so the visitor waits for no
handshake; the next standby is opened when the conversation ends. A standby is replaced
about 10 minutes before the server's 60-minute cap, and whenever it is found dead.

Every session is read by one reader task for its whole life; events go to whoever owns
the session: the manager while it is on standby (it only watches for death and errors),
the daemon once it is taken. Opening uses the one retry helper (device/retry/attempts.py).

Example::

    manager = LinkManager(connect, spec, policy=RetryPolicy(...), spawn=supervisor.spawn)
    session = await manager.open_ready()        # connected and set up, or LinkError
    session.route(daemon.dispatch, daemon.on_closed)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from device.common.text import one_line
from device.realtime.commands import LinkCommand, SessionSpec, UpdateSession
from device.realtime.events import (
    ErrorKind,
    ServerError,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    Severity,
)
from device.realtime.link import RETRYABLE_CLOSE_CODES, LinkError
from device.retry.attempts import Classified, Failure

log = logging.getLogger(__name__)

RENEW_BEFORE_S = 600.0  # replace a standby this long before the server's cap
DEFAULT_LIFETIME_S = 3600.0  # when session.created names no expiry


class Link(Protocol):
    """What the daemon needs of a Realtime link (device/realtime/link.py `RealtimeLink`)."""

    close_code: int | None
    malformed: int  # server frames skipped as unreadable

    async def send(self, command: LinkCommand) -> None: ...

    def events(self) -> AsyncIterator[ServerEvent]: ...

    async def close(self) -> None: ...


class SessionSetupError(Exception):
    """The server did not set the session up; ``classified`` says how to retry."""

    def __init__(self, message: str, classified: Classified) -> None:
        super().__init__(message)
        self.classified = classified


def classify_link_failure(exc: BaseException) -> Classified:
    """Link failures in the retry helper's words (which retry, how soon)."""
    if isinstance(exc, SessionSetupError):
        return exc.classified
    if isinstance(exc, LinkError):
        if exc.status in (401, 403):
            return Classified(Failure.AUTH)
        if exc.status == 429:
            return Classified(Failure.BUSY, exc.retry_after_s)
        if exc.status is not None and exc.status >= 500:
            return Classified(
                Failure.BUSY if exc.retry_after_s else Failure.SERVER, exc.retry_after_s
            )
        if exc.network:
            return Classified(Failure.NETWORK)
        if exc.status is not None:
            return Classified(Failure.FATAL)  # e.g. 404: a wrong URL does not heal
        return Classified(Failure.SERVER)
    if isinstance(exc, TimeoutError | OSError):
        return Classified(Failure.NETWORK)
    return Classified(Failure.SERVER)


def failure_kind(exc: BaseException) -> str:
    return classify_link_failure(exc).kind.value


class LiveSession:
    """One open, set-up session and its reader; ``route`` says where its events go."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.expires_at: float | None = None  # epoch seconds, from session.created
        self.opened_at = time.time()
        self._on_event: Callable[[ServerEvent], None] = lambda _e: None
        self._on_closed: Callable[[LiveSession, str, bool], None] = lambda _s, _r, _x: None
        self.closed = asyncio.Event()
        self.close_reason = ""

    def route(
        self,
        on_event: Callable[[ServerEvent], None],
        on_closed: Callable[[LiveSession, str, bool], None],
    ) -> None:
        """Send this session's events (and its end: reason, retryable) elsewhere from now."""
        self._on_event = on_event
        self._on_closed = on_closed

    def renew_in_s(self, now: float) -> float:
        expires = self.expires_at or (self.opened_at + DEFAULT_LIFETIME_S)
        return max(0.0, expires - now - RENEW_BEFORE_S)

    async def read(self) -> None:
        """The reader: every event to the owner, then the end (one task per session)."""
        try:
            async for event in self.link.events():
                self._on_event(event)
            code = self.link.close_code
            self.close_reason = f"the server closed the connection (code {code})"
            retryable = code in RETRYABLE_CLOSE_CODES
        except LinkError as exc:  # the device closed it for what the server sent (1007)
            self.close_reason = str(exc)
            retryable = True
        except Exception as exc:  # a reader must never leave its owner waiting
            self.close_reason = f"reading the link failed: {type(exc).__name__}"
            retryable = True
        self.closed.set()
        self._on_closed(self, self.close_reason, retryable)


Spawn = Callable[..., Any]


class LinkManager:
    """Opens set-up sessions and keeps the warm standby (see the module docstring)."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Link]],
        spec: SessionSpec,
        *,
        spawn: Spawn,
        setup_timeout_s: float = 10.0,
    ) -> None:
        self._connect = connect
        self._spec = spec
        self._spawn = spawn
        self.setup_timeout_s = setup_timeout_s
        self._ids = 0
        self.standby: LiveSession | None = None
        self.opened = 0  # sessions opened (standby or not)

    async def open_ready(self) -> LiveSession:
        """Connect, wait for session.created, send session.update, wait for session.updated.

        Raises `LinkError` or `SessionSetupError` (one line each) when that fails or the
        server takes longer than ``setup_timeout_s``; the link is closed then.
        """
        link = await self._connect()
        session = LiveSession(link)
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        update_id = f"set_{self._next_id()}"

        def on_event(event: ServerEvent) -> None:
            match event:
                case SessionCreated(expires_at=expires_at):
                    session.expires_at = float(expires_at) if expires_at else None
                    self._spawn(
                        "session set-up",
                        lambda: link.send(UpdateSession(self._spec, event_id=update_id)),
                    )
                case SessionUpdated():
                    if not ready.done():
                        ready.set_result(None)
                case ServerError() if event.severity is not Severity.HARMLESS:
                    if not ready.done():
                        kind = (
                            Failure.AUTH
                            if event.kind is ErrorKind.AUTH
                            else (
                                Failure.FATAL
                                if event.severity is Severity.FATAL
                                else Failure.SERVER
                            )
                        )
                        ready.set_exception(
                            SessionSetupError(
                                f"the server refused the session: {one_line(event.code, 80)}",
                                Classified(kind),
                            )
                        )
                case ServerError(kind=ErrorKind.RATE_LIMITED | ErrorKind.SERVER):
                    if not ready.done():
                        ready.set_exception(
                            SessionSetupError(
                                f"the server is busy: {one_line(event.code, 80)}",
                                Classified(Failure.BUSY),
                            )
                        )
                case _:
                    pass

        def on_closed(_s: LiveSession, reason: str, _retryable: bool) -> None:
            if not ready.done():
                ready.set_exception(SessionSetupError(reason, Classified(Failure.SERVER)))

        session.route(on_event, on_closed)
        self._spawn("realtime reader", session.read)
        try:
            async with asyncio.timeout(self.setup_timeout_s):
                await ready
        except TimeoutError:
            await self.close(session)
            raise SessionSetupError(
                f"the server did not set up the session within {self.setup_timeout_s:g} s",
                Classified(Failure.SERVER),
            ) from None
        except BaseException:
            await self.close(session)
            raise
        self.opened += 1
        return session

    def take_standby(self) -> LiveSession | None:
        """The ready standby, now the caller's (None when there is none)."""
        session, self.standby = self.standby, None
        if session is not None and session.closed.is_set():
            return None
        return session

    async def close(self, session: LiveSession) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5.0):
                await session.link.close()

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids
