"""The session keeper: the conversation's Realtime session, the warm standby, reconnects,
and the sender that drains the two lanes onto the link.

A part of the daemon (device/daemon/daemon.py) that owns every field it uses. The session
a visitor talks on comes from `acquire` (the standby at once, or the next one opened);
`_keep_standby` holds one set-up session while idle; `_reconnect` opens a new one
mid-conversation; every opening goes through the one retry helper
(device/retry/attempts.py) with the policy from the settings. The sender drains the two
lanes (control first) onto the current link.

What it needs of the daemon comes in as callables: ``dispatch`` (an event for the engine),
``emit`` (a report), ``spawn`` (a supervised task). What it needs of the engine's state it
learns from `state_changed`, never by reading the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from device.common.text import one_line
from device.conversation import (
    Event,
    LinkLost,
    LinkStatus,
    ReconnectFailed,
    SessionReady,
    State,
)
from device.conversation.reports import ErrorReported, Report
from device.conversation.state import ENDED
from device.daemon.lanes import Lanes
from device.daemon.link_manager import (
    Link,
    LinkManager,
    LiveSession,
    classify_link_failure,
    failure_kind,
)
from device.daemon.supervisor import Spawn
from device.realtime.commands import SessionSpec
from device.realtime.events import ServerEvent
from device.realtime.settings import RealtimeSettings
from device.retry.attempts import Classified, Failure, RetryGaveUp, RetryPolicy, hedged, retry

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 5.0  # one frame that cannot go out in this long: the socket is stuck
CLOSE_TIMEOUT_S = 5.0
# while the link is down, an attempt that has not finished in this long gets a fresh one
# beside it (a dropped route leaves the first on SYN retransmits: device/retry/attempts.py)
HEDGE_EVERY_S = 1.0
HEDGE_AT_MOST = 3

LinkFactory = Callable[[], Awaitable[Link]]


class SessionKeeper:
    def __init__(
        self,
        settings: RealtimeSettings,
        spec: SessionSpec,
        connect: LinkFactory,
        lanes: Lanes,
        *,
        dispatch: Callable[[Event], None],
        emit: Callable[[Report], None],
        spawn: Spawn,
        key_source: str = "",
    ) -> None:
        self._settings = settings
        self._lanes = lanes
        self._dispatch = dispatch
        self._emit = emit
        self._spawn = spawn
        self._key_source = key_source  # where the API key came from, for a refused key
        self.manager = LinkManager(
            connect, spec, spawn=spawn, setup_timeout_s=settings.connect_timeout_s
        )
        self.link: Link | None = None
        self.session: LiveSession | None = None
        self._state = State.IDLE
        self._standby_wanted = asyncio.Event()
        self._probe = asyncio.Event()
        # visitors waiting for the keeper's next session, with the keeper's attempts begun
        # when they came (an attempt begun before a visitor does not fail them: the next)
        self._waiters: list[tuple[asyncio.Future[LiveSession], int]] = []
        self._attempts = 0  # the keeper's attempts begun
        self._closing: set[Link] = set()  # links being closed (closed for sure at exit)
        self._link_down = False  # the standby keeper could not get a session last time
        self._malformed_done = 0  # malformed frames of links already closed
        self.keeper_running = False

    # -- what the daemon asks --------------------------------------------------------------

    def start(self) -> None:
        """The sender, and the standby keeper when ``realtime.standby`` is on."""
        if self._settings.standby:
            self._standby_wanted.set()
            self._spawn("standby", self._keep_standby, restart=True)
        self._spawn("sender", self._send_loop, restart=True)

    @property
    def standby(self) -> LiveSession | None:
        """The warm session waiting for the next visitor, if any."""
        return self.manager.standby

    @property
    def alive(self) -> bool:
        """For health: the standby keeper runs (or standby is off)."""
        return self.keeper_running or not self._settings.standby

    def malformed(self) -> int:
        live = [s.link for s in (self.session, self.manager.standby) if s is not None]
        return self._malformed_done + sum(link.malformed for link in live)

    def state_changed(self, new: State) -> None:
        self._state = new

    def visitor_left(self) -> None:
        if self._settings.standby:
            self._standby_wanted.set()

    def probe(self) -> None:
        """Try the link now (a visitor came while it was down)."""
        self._probe.set()

    def connect(self) -> None:
        """A visitor came: their session, in a supervised task."""
        self._spawn(
            "realtime link",
            self._open_link,
            on_error=lambda exc: self._dispatch(LinkLost(f"opening the link failed: {exc}")),
        )

    def reconnect(self) -> None:
        self.disconnect(next_visitor=False)
        self._spawn("reconnect", self._reconnect)

    def disconnect(self, *, next_visitor: bool = True) -> None:
        """Close the conversation's session; with ``next_visitor``, open the next standby."""
        session, self.session = self.session, None
        self.link = None
        self._lanes.clear()
        if session is not None:
            self._closing.add(session.link)
            self._spawn("closing the link", lambda: self._close_quietly(session.link))
        if next_visitor and self._settings.standby:
            self._standby_wanted.set()

    async def close(self) -> None:
        """At exit, after the supervisor stopped: every link this keeper opened, closed."""
        link, self.link = self.link, None
        standby = self.manager.take_standby()
        extra = [x for x in (link, standby.link if standby else None) if x is not None]
        for closing in [*self._closing, *extra]:
            await self._close_quietly(closing)

    # -- opening sessions ------------------------------------------------------------------

    def _retry_policy(self) -> RetryPolicy:
        rt = self._settings
        return RetryPolicy(
            base_s=rt.reconnect_base_s,
            cap_s=rt.reconnect_cap_s,
            auth_retry_s=rt.auth_retry_s,
            classify=classify_link_failure,
        )

    async def _open_hedged(self) -> LiveSession:
        """A set-up session; while the link is down, with fresh attempts beside one that
        hangs, so a route that comes back is used at once."""
        if not self._link_down:
            return await self.manager.open_ready()
        return await hedged(
            self.manager.open_ready,
            every_s=HEDGE_EVERY_S,
            at_most=HEDGE_AT_MOST,
            discard=self.manager.close,
        )

    def _adopt(self, session: LiveSession) -> None:
        """The conversation's session from now: its events reach the engine."""
        self.session = session
        self.link = session.link

        def on_event(event: ServerEvent) -> None:
            if self.session is session:
                self._dispatch(event)

        session.route(on_event, self._session_closed)

    def _session_closed(self, session: LiveSession, reason: str, retryable: bool) -> None:
        if self.session is not session:
            return
        self.session = None
        self.link = None
        self._lanes.clear()
        self._dispatch(LinkLost(reason, retryable=retryable, kind="server"))

    async def _acquire(self, budget_s: float) -> LiveSession:
        """A set-up session for a visitor: the standby at once, or the next one opened."""
        session = self.manager.take_standby()
        if session is not None:
            self._standby_wanted.clear()
            return session
        if not self._settings.standby:  # retried within the connect timeout, so the link's
            # own reason (a refusal, no handshake answer) ends the visit, not the engine's
            # set-up deadline just after it (device/daemon/engine_policy.py SETUP_MARGIN_S)
            budget = min(budget_s, self._settings.connect_timeout_s)
            return await retry(self._open_hedged, self._retry_policy(), budget_s=budget)
        self._standby_wanted.set()
        self._probe.set()
        if self._link_down:  # the keeper may sit on a dead route: the visitor's own attempt
            async with asyncio.timeout(budget_s):
                return await self._open_hedged()
        waiter: asyncio.Future[LiveSession] = asyncio.get_running_loop().create_future()
        entry = (waiter, self._attempts)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(budget_s):
                return await waiter
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    async def _open_link(self) -> None:
        timeout_s = self._settings.connect_timeout_s + 1.0
        try:
            session = await self._acquire(timeout_s)
        except TimeoutError:
            self._dispatch(LinkLost(f"no session within {timeout_s:g} s", kind="network"))
            return
        except RetryGaveUp as exc:
            self._dispatch(LinkLost(self._credential_hint(exc), kind=exc.kind.value))
            return
        except Exception as exc:  # LinkError, SessionSetupError: one line
            self._dispatch(LinkLost(self._credential_hint(exc), kind=failure_kind(exc)))
            return
        if self._state is not State.CONNECTING:
            await self._discard(session)  # the conversation ended meanwhile
            if self._settings.standby and self._state in ENDED:
                self._standby_wanted.set()  # the keeper handed it over: it opens another
            return
        self._adopt(session)
        self._dispatch(SessionReady())

    async def _reconnect(self) -> None:
        """Mid-conversation: a new session within the retry budget, then restore."""
        budget_s = self._settings.reconnect_budget_s
        session = self.manager.take_standby()
        try:
            if session is None:
                session = await retry(self._open_hedged, self._retry_policy(), budget_s=budget_s)
        except RetryGaveUp as exc:
            self._dispatch(ReconnectFailed(self._credential_hint(exc), exc.kind.value))
            return
        if self._state is not State.RECONNECTING:
            await self._discard(session)
            return
        self._adopt(session)
        self._dispatch(SessionReady(restore=True))

    def _credential_hint(self, exc: BaseException) -> str:
        text = one_line(exc)
        kind = exc.kind if isinstance(exc, RetryGaveUp) else classify_link_failure(exc).kind
        if kind is Failure.AUTH and self._key_source:
            text += f" (the key came from {self._key_source})"
        return text

    async def _keep_standby(self) -> None:
        """While idle, hold one set-up session; hand it to a waiting visitor at once."""
        self.keeper_running = True
        try:
            await self._standby_loop()
        finally:
            self.keeper_running = False

    async def _standby_loop(self) -> None:
        manager = self.manager
        down = False

        def failed(n: int, exc: BaseException, classified: Classified, delay: float | None) -> None:
            nonlocal down
            self._link_down = classified.kind is Failure.NETWORK
            # a visitor waiting for this attempt: tell them now, not later; one who came
            # while it was under way (begun before the network came back, maybe) waits for
            # the next, made at once (their probe), unless there is none
            kept = []
            for entry in self._waiters:
                waiter, seen = entry
                if delay is not None and seen >= self._attempts:
                    kept.append(entry)
                elif not waiter.done():
                    waiter.set_exception(exc)
            self._waiters[:] = kept
            if not down or classified.kind is Failure.AUTH:
                down = True
                self._dispatch(LinkStatus(False, self._credential_hint(exc), classified.kind.value))

        async def attempt() -> LiveSession:
            self._attempts += 1
            return await self._open_hedged()

        while True:
            await self._standby_wanted.wait()
            try:
                session = await retry(
                    attempt, self._retry_policy(), on_failure=failed, wake=self._probe
                )
            except RetryGaveUp:  # not worth retrying by itself: wait for a probe (a press)
                self._probe.clear()
                await self._probe.wait()
                continue
            down = False
            self._link_down = False
            self._dispatch(LinkStatus(True))
            entry = next((e for e in self._waiters if not e[0].done()), None)
            if entry is not None:
                self._waiters.remove(entry)
                waiter = entry[0]
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
                await self._discard(session)
                self._standby_wanted.set()

    def _standby_closed(self, session: LiveSession, reason: str, retryable: bool) -> None:
        log.info("standby session ended: %s; opening another", one_line(reason))

    async def _discard(self, session: LiveSession) -> None:
        self._malformed_done += session.link.malformed
        await self.manager.close(session)

    async def _close_quietly(self, link: Link) -> None:
        self._closing.add(link)
        try:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await link.close()
        finally:
            if link in self._closing:
                self._closing.discard(link)
                self._malformed_done += link.malformed

    # -- sending ---------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            command = await self._lanes.next()
            link = self.link
            if link is None:
                continue
            try:
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    await link.send(command)
            except TimeoutError:
                self._emit(
                    ErrorReported("link_stalled", f"a frame did not go out in {SEND_TIMEOUT_S:g} s")
                )
            except Exception as exc:  # the reader reports the lost link
                log.debug("send failed: %s", one_line(exc))
