"""The daemon's link wiring: the conversation's session, the warm standby, reconnects.

A mixin of `Daemon` (device/daemon/daemon.py), split out by job. The session a visitor
talks on comes from `_acquire` (the standby at once, or the next one opened);
`_keep_standby` holds one set-up session while idle; `_reconnect` opens a new one
mid-conversation; every opening
goes through the one retry helper (device/retry/attempts.py) with the policy from the settings.
The sender loop drains the two lanes (control first) onto the current link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from device.common.text import one_line
from device.config.settings import Settings
from device.conversation import (
    Conversation,
    Event,
    LinkLost,
    LinkStatus,
    ReconnectFailed,
    SessionReady,
    State,
)
from device.conversation.reports import (
    ErrorReported,
    Report,
)
from device.daemon.lanes import Lanes
from device.daemon.link_manager import LinkManager, LiveSession, classify_link_failure, failure_kind
from device.realtime.events import ServerEvent
from device.retry.attempts import Classified, Failure, RetryGaveUp, RetryPolicy, hedged, retry

log = logging.getLogger("device.daemon.daemon")

SEND_TIMEOUT_S = 5.0  # one frame that cannot go out in this long: the socket is stuck
CLOSE_TIMEOUT_S = 5.0
# while the link is down, an attempt that has not finished in this long gets a fresh one
# beside it (a dropped route leaves the first on SYN retransmits: device/retry/attempts.py hedged())
HEDGE_EVERY_S = 1.0
HEDGE_AT_MOST = 3

if TYPE_CHECKING:
    from device.daemon.daemon import Link


class LinkWiring:
    """Mixed into `Daemon`; what it uses of the daemon is declared here for mypy."""

    settings: Settings
    engine: Conversation
    lanes: Lanes
    link: Any
    session: LiveSession | None
    key_source: str
    _links: LinkManager | None
    _standby_wanted: asyncio.Event
    _probe: asyncio.Event
    _waiters: list[asyncio.Future[LiveSession]]
    _closing: set[Any]
    _link_down: bool

    if TYPE_CHECKING:

        @property
        def loop(self) -> asyncio.AbstractEventLoop: ...

        def dispatch(self, event: Event) -> None: ...

        def emit(self, report: Report) -> None: ...

        def _spawn(
            self,
            name: str,
            factory: Callable[[], Any],
            *,
            restart: bool = False,
            on_error: Callable[[BaseException], None] | None = None,
        ) -> None: ...

    # -- the link -----------------------------------------------------------------------

    def _retry_policy(self) -> RetryPolicy:
        rt = self.settings.realtime
        return RetryPolicy(
            base_s=rt.reconnect_base_s,
            cap_s=rt.reconnect_cap_s,
            auth_retry_s=rt.auth_retry_s,
            classify=classify_link_failure,
        )

    async def _open_hedged(self) -> LiveSession:
        """A set-up session; while the link is down, with fresh attempts beside one that
        hangs, so a route that comes back is used at once."""
        manager = self._manager()
        if not self._link_down:
            return await manager.open_ready()
        return await hedged(
            manager.open_ready, every_s=HEDGE_EVERY_S, at_most=HEDGE_AT_MOST, discard=manager.close
        )

    def _adopt(self, session: LiveSession) -> None:
        """The conversation's session from now: its events reach the engine."""
        self.session = session
        self.link = session.link

        def on_event(event: ServerEvent) -> None:
            if self.session is session:
                self.dispatch(event)

        session.route(on_event, self._session_closed)

    def _session_closed(self, session: LiveSession, reason: str, retryable: bool) -> None:
        if self.session is not session:
            return
        self.session = None
        self.link = None
        self.lanes.clear()
        self.dispatch(LinkLost(reason, retryable=retryable, kind="server"))

    async def _acquire(self, budget_s: float) -> LiveSession:
        """A set-up session for a visitor: the standby at once, or the next one opened."""
        manager = self._manager()
        session = manager.take_standby()
        if session is not None:
            self._standby_wanted.clear()
            return session
        if not self.settings.realtime.standby:
            return await retry(self._open_hedged, self._retry_policy(), budget_s=budget_s)
        self._standby_wanted.set()
        self._probe.set()
        if self._link_down:  # the keeper may sit on a dead route: the visitor's own attempt
            async with asyncio.timeout(budget_s):
                return await self._open_hedged()
        waiter: asyncio.Future[LiveSession] = self.loop.create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(budget_s):
                return await waiter
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def _open_link(self) -> None:
        timeout_s = self.settings.realtime.connect_timeout_s + 1.0
        try:
            session = await self._acquire(timeout_s)
        except TimeoutError:
            self.dispatch(LinkLost(f"no session within {timeout_s:g} s", kind="network"))
            return
        except RetryGaveUp as exc:
            self.dispatch(LinkLost(self._credential_hint(exc), kind=exc.kind.value))
            return
        except Exception as exc:  # LinkError, SessionSetupError: one line
            self.dispatch(LinkLost(self._credential_hint(exc), kind=failure_kind(exc)))
            return
        if not self.engine.active or self.engine.state is not State.CONNECTING:
            await self._manager().close(session)  # the conversation ended meanwhile
            if self.settings.realtime.standby and not self.engine.active:
                self._standby_wanted.set()  # the keeper handed it over: it opens another
            return
        self._adopt(session)
        self.dispatch(SessionReady())

    async def _reconnect(self) -> None:
        """Mid-conversation: a new session within the retry budget, then restore."""
        budget_s = self.settings.realtime.reconnect_budget_s
        session = self._manager().take_standby()
        try:
            if session is None:
                session = await retry(self._open_hedged, self._retry_policy(), budget_s=budget_s)
        except RetryGaveUp as exc:
            self.dispatch(ReconnectFailed(self._credential_hint(exc), exc.kind.value))
            return
        if self.engine.state is not State.RECONNECTING:
            await self._manager().close(session)
            return
        self._adopt(session)
        self.dispatch(SessionReady(restore=True))

    def _credential_hint(self, exc: BaseException) -> str:
        text = one_line(exc)
        kind = exc.kind if isinstance(exc, RetryGaveUp) else classify_link_failure(exc).kind
        if kind is Failure.AUTH and self.key_source:
            text += f" (the key came from {self.key_source})"
        return text

    async def _keep_standby(self) -> None:
        """While idle, hold one set-up session; hand it to a waiting visitor at once."""
        manager = self._manager()
        down = False

        def failed(n: int, exc: BaseException, classified: Classified, delay: float | None) -> None:
            nonlocal down
            self._link_down = classified.kind is Failure.NETWORK
            for waiter in self._waiters:  # a visitor is waiting: tell them now, not later
                if not waiter.done():
                    waiter.set_exception(exc)
            self._waiters.clear()
            if not down or classified.kind is Failure.AUTH:
                down = True
                self.dispatch(LinkStatus(False, self._credential_hint(exc), classified.kind.value))

        while True:
            await self._standby_wanted.wait()
            try:
                session = await retry(
                    self._open_hedged, self._retry_policy(), on_failure=failed, wake=self._probe
                )
            except RetryGaveUp:  # not worth retrying by itself: wait for a probe (a press)
                self._probe.clear()
                await self._probe.wait()
                continue
            if down:
                down = False
            self._link_down = False
            self.dispatch(LinkStatus(True))
            waiter = next((w for w in self._waiters if not w.done()), None)
            if waiter is not None:
                self._waiters.remove(waiter)
                self._standby_wanted.clear()
                waiter.set_result(session)
                continue
            manager.standby = session
            self._standby_wanted.clear()
            session.route(lambda _e: None, self._standby_closed)
            renew_s = session.renew_in_s(time.time())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(renew_s):
                    await session.closed.wait()
            if manager.standby is session:  # dead or due for renewal: replace it
                manager.standby = None
                await manager.close(session)
                self._standby_wanted.set()

    def _standby_closed(self, session: LiveSession, reason: str, retryable: bool) -> None:
        log.info("standby session ended: %s; opening another", one_line(reason))

    def _manager(self) -> LinkManager:
        if self._links is None:
            raise RuntimeError("the daemon is not running")
        return self._links

    def _close_link(self, *, next_visitor: bool = True) -> None:
        """Close the conversation's session; with ``next_visitor``, open the next standby."""
        session, self.session = self.session, None
        self.link = None
        self.lanes.clear()
        if session is not None:
            self._closing.add(session.link)
            self._spawn("closing the link", lambda: self._close_quietly(session.link))
        if next_visitor and self.settings.realtime.standby:
            self._standby_wanted.set()

    async def _close_quietly(self, link: Link) -> None:
        self._closing.add(link)
        try:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await link.close()
        finally:
            self._closing.discard(link)

    async def _send_loop(self) -> None:
        while True:
            command = await self.lanes.next()
            link = self.link
            if link is None:
                continue
            try:
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    await link.send(command)
            except TimeoutError:
                self.emit(
                    ErrorReported("link_stalled", f"a frame did not go out in {SEND_TIMEOUT_S:g} s")
                )
            except Exception as exc:  # the reader reports the lost link
                log.debug("send failed: %s", one_line(exc))
