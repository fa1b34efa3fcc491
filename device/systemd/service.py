"""`SystemdService`: READY, STATUS and the watchdog for a daemon run by systemd (Type=notify).

A `Service` (device/services/ports.py):

- ``report`` tracks the state for STATUS= (sent whenever its text changes) and sends
  ``READY=1`` on the `Ready` report, once: not before the device can really serve.
- ``run(ports)`` ticks on the daemon's event loop. After Ready, while ``ports.health()``
  is ok (microphone frames arriving, the loop probe recent, the link manager alive, no
  failed worker) it sends ``WATCHDOG=1`` every half ``$WATCHDOG_USEC``; when health is not
  ok it stops pinging and logs the problems once. It is not a bare timer: a blocked event
  loop stops the ticks themselves, so systemd restarts the service after WatchdogSec=.
  Before Ready no pings are sent: start-up is bounded by TimeoutStartSec= instead.
- ``close()`` sends ``STOPPING=1`` (idempotent).

Every send is one AF_UNIX datagram to ``$NOTIFY_SOCKET`` (systemd.daemon.notify, which
reads the variable at each call); a failed send is logged once and never raised.

Example::

    service = build_systemd_service(os.environ, wake_phrases=["hey_jarvis"])
    services = [service] if service is not None else []
    daemon = Daemon(settings, ..., services=services)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping, Sequence

from device.conversation.reports import (
    ConversationEnded,
    ConversationStarted,
    ErrorReported,
    MuteChanged,
    Ready,
    Report,
    StateChanged,
)
from device.conversation.state import State
from device.services.ports import Ports
from device.systemd.notify import message, status_text, watchdog_interval_s

log = logging.getLogger(__name__)

STATUS_REFRESH_S = 1.0
"""How often ``run`` recomputes STATUS= (a conversation's length); sent only on change."""

Send = Callable[[str], object]
"""Sends one sd_notify message (``"READY=1\\nSTATUS=..."``); may raise OSError."""


class SystemdService:
    """READY=1, STATUS= and WATCHDOG=1 for systemd (see the module docstring).

    ``send``: one sd_notify message out (systemd.daemon.notify in production);
    ``watchdog_s``: the ping interval, half of $WATCHDOG_USEC (None: no watchdog);
    ``wake_phrases``: wake model labels for the idle STATUS ("listening for 'hey jarvis'");
    ``wall_clock``: the local time, for "offline since 10:42".
    """

    name = "systemd"

    def __init__(
        self,
        send: Send,
        *,
        watchdog_s: float | None,
        wake_phrases: Sequence[str] = (),
        wall_clock: Callable[[], dt.datetime] = dt.datetime.now,
        status_refresh_s: float = STATUS_REFRESH_S,
    ) -> None:
        self._send_raw = send
        self.watchdog_s = watchdog_s
        self._wake_phrases = tuple(wake_phrases)
        self._wall_clock = wall_clock
        self._refresh_s = status_refresh_s
        self._state = State.IDLE
        self._ready = False
        self._muted = False
        self._closed = False
        self._conversation_since_ms: float | None = None
        self._offline_since: dt.time | None = None
        self._error: str | None = None
        self._status: str | None = None  # the last STATUS= sent
        self._last_ping_ms: float | None = None
        self._unhealthy = False
        self._send_failures = 0
        self.pings = 0  # WATCHDOG=1 sent (for the daemon's stats and tests)

    @property
    def is_ready(self) -> bool:
        return self._ready

    def report(self, t_ms: float, report: Report) -> None:
        match report:
            case StateChanged(new=new):
                if new is State.OFFLINE and self._state is not State.OFFLINE:
                    self._offline_since = self._wall_clock().time()
                elif new is not State.OFFLINE:
                    self._offline_since = None
                self._state = new
            case ConversationStarted():
                self._conversation_since_ms = t_ms
            case ConversationEnded():
                self._conversation_since_ms = None
            case ErrorReported(code=code):
                self._error = code
            case MuteChanged(muted=muted):
                self._muted = muted
            case Ready():
                if not self._ready and not self._closed:
                    self._ready = True
                    self._status = self._status_text(t_ms)
                    self._send(message(ready=True, status=self._status))
                return
            case _:
                return
        self._refresh(t_ms)

    def set_muted(self, muted: bool, t_ms: float) -> None:
        """The operator muted (or unmuted) the device: STATUS= says "muted" while idle."""
        self._muted = muted
        self._refresh(t_ms)

    async def run(self, ports: Ports) -> None:
        tick_s = self._refresh_s
        if self.watchdog_s is not None:
            tick_s = min(tick_s, self.watchdog_s)
        while not self._closed:
            now_ms = ports.now_ms()
            self._refresh(now_ms)
            if self.watchdog_s is not None and self._ready:
                self._watchdog(ports, now_ms)
            await asyncio.sleep(tick_s)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._send(message(stopping=True, status="stopping: closing audio and lights"))

    def _watchdog(self, ports: Ports, now_ms: float) -> None:
        health = ports.health()
        problems = health.problems()
        if problems:
            if not self._unhealthy:
                self._unhealthy = True
                log.error(
                    "watchdog: not telling systemd we are alive: %s (it restarts the "
                    "service after WatchdogSec= unless this clears)",
                    "; ".join(problems),
                    extra={"VK_WATCHDOG": "stopped"},
                )
            return
        recovered = self._unhealthy
        if recovered:
            self._unhealthy = False
            log.info("watchdog: the pipeline is alive again", extra={"VK_WATCHDOG": "resumed"})
        assert self.watchdog_s is not None
        due = self._last_ping_ms is None or now_ms - self._last_ping_ms >= self.watchdog_s * 1e3
        if due or recovered:
            self._last_ping_ms = now_ms
            if self._send(message(watchdog=True)):
                self.pings += 1

    def _status_text(self, now_ms: float) -> str:
        return status_text(
            self._state,
            now_ms=now_ms,
            ready=self._ready,
            conversation_since_ms=self._conversation_since_ms,
            offline_since=self._offline_since,
            muted=self._muted,
            wake_phrases=self._wake_phrases,
            error=self._error,
        )

    def _refresh(self, now_ms: float) -> None:
        if self._closed:
            return
        text = self._status_text(now_ms)
        if text != self._status:
            self._status = text
            self._send(message(status=text))

    def _send(self, text: str) -> bool:
        try:
            self._send_raw(text)
        except OSError as exc:
            self._send_failures += 1
            if self._send_failures == 1:
                log.warning(
                    "systemd: cannot notify the service manager (%s); READY/STATUS/WATCHDOG "
                    "may be missing",
                    exc.strerror or exc,
                )
            return False
        return True


def build_systemd_service(
    environ: Mapping[str, str],
    *,
    wake_phrases: Sequence[str] = (),
    pid: int | None = None,
) -> SystemdService | None:
    """The systemd notifier when systemd runs us (``$NOTIFY_SOCKET`` set), else None.

    ``environ`` is the process environment (os.environ: libsystemd reads $NOTIFY_SOCKET
    from it at each send); the watchdog interval comes from ``$WATCHDOG_USEC`` (and
    ``$WATCHDOG_PID``, compared with ``pid``, this process by default).
    """
    if not environ.get("NOTIFY_SOCKET"):
        return None
    try:
        from systemd.daemon import notify  # systemd-python (not the PyPI package "systemd")
    except ImportError:
        log.error(
            "systemd: $NOTIFY_SOCKET is set but systemd-python is not installed; "
            "without READY=1 systemd stops the start-up at TimeoutStartSec="
        )
        return None

    def send(text: str) -> object:
        return notify(text)

    return SystemdService(
        send,
        watchdog_s=watchdog_interval_s(environ, os.getpid() if pid is None else pid),
        wake_phrases=wake_phrases,
    )
