"""SystemdService through a NOTIFY_SOCKET the test binds: READY only after Ready, STATUS per
state, WATCHDOG only while health is ok and while the loop runs, STOPPING at close.

The datagrams go through systemd-python's systemd.daemon.notify (libsystemd's sd_notify),
which reads $NOTIFY_SOCKET at each call: the fixture sets it after the import.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable

import pytest

from device.conversation.reports import (
    ConversationEnded,
    ConversationStarted,
    ErrorReported,
    Outcome,
    Ready,
    StateChanged,
)
from device.conversation.state import State
from device.services.ports import Health, Stats
from device.services.triggers import Trigger
from device.systemd.service import SystemdService, build_systemd_service
from tests.helpers.systemd import NotifyReader

HEALTHY = Health(
    mic_frame_age_ms=20.0, loop_probe_age_ms=100.0, loop_lag_ms=1.0, link_manager_alive=True
)
MIC_STALLED = Health(
    mic_frame_age_ms=5_000.0, loop_probe_age_ms=100.0, loop_lag_ms=1.0, link_manager_alive=True
)
LOOP_STALE = Health(
    mic_frame_age_ms=20.0, loop_probe_age_ms=3_000.0, loop_lag_ms=2_900.0, link_manager_alive=True
)
READY = Ready(after_ms=900.0, standby=True, offline=False)


class FakePorts:
    """Ports whose health the test sets; ``ticks(n)`` waits for n more of the service's
    ticks (each tick reads now_ms() once; the tests never call it themselves)."""

    def __init__(self, health: Health = HEALTHY) -> None:
        self.health_now = health
        self.calls = 0
        self._t0 = time.monotonic()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def now_ms(self) -> float:
        self.calls += 1
        for target, fut in list(self._waiters):
            if self.calls >= target and not fut.done():
                fut.set_result(None)
        return (time.monotonic() - self._t0) * 1e3

    def stats(self) -> Stats:
        return Stats(state="idle")

    def health(self) -> Health:
        return self.health_now

    def trigger(self, trigger: Trigger) -> None:
        pass

    async def ticks(self, n: int) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self.calls + n, fut))
        await asyncio.wait_for(fut, 5.0)


def service(monkeypatch: pytest.MonkeyPatch, watchdog_usec: int | None = None) -> SystemdService:
    if watchdog_usec is not None:
        monkeypatch.setenv("WATCHDOG_USEC", str(watchdog_usec))
    built = build_systemd_service(os.environ, wake_phrases=["hey_jarvis"])
    assert built is not None
    return built


def test_no_notify_socket_no_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert build_systemd_service(os.environ) is None


def test_watchdog_interval_from_the_environment(
    notify: NotifyReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert service(monkeypatch).watchdog_s is None
    assert service(monkeypatch, watchdog_usec=15_000_000).watchdog_s == 7.5
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert service(monkeypatch, watchdog_usec=15_000_000).watchdog_s is None


def test_ready_only_after_the_ready_report(
    notify: NotifyReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = service(monkeypatch)
    svc.report(10.0, StateChanged(State.IDLE, State.CONNECTING))  # the warm session opening
    svc.report(20.0, StateChanged(State.CONNECTING, State.IDLE))
    svc.report(30.0, ErrorReported("x", "y"))
    assert not any("READY" in m for m in notify.drain())
    assert not svc.is_ready

    svc.report(900.0, READY)
    assert notify.drain() == [{"READY": "1", "STATUS": "listening for 'hey jarvis'"}]
    svc.report(950.0, READY)  # once per start
    assert notify.drain() == []


def test_status_follows_the_state(notify: NotifyReader, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = SystemdService(
        lambda text: __import__("systemd.daemon").daemon.notify(text),
        watchdog_s=None,
        wake_phrases=["hey_jarvis"],
        wall_clock=lambda: dt.datetime(2026, 5, 20, 10, 42, 5),
    )
    svc.report(0.0, READY)
    notify.drain()
    steps: list[tuple[float, object, str | None]] = [
        (1_000.0, ConversationStarted("c1", "wake word"), None),  # state unchanged: no STATUS
        (
            1_000.0,
            StateChanged(State.IDLE, State.CONNECTING),
            "in a conversation (under a minute): connecting",
        ),
        (
            1_200.0,
            StateChanged(State.CONNECTING, State.LISTENING),
            "in a conversation (under a minute): listening",
        ),
        (
            130_000.0,
            StateChanged(State.LISTENING, State.SPEAKING),
            "in a conversation (2 min): speaking",
        ),
        (
            131_000.0,
            ConversationEnded("goodbye", outcome=Outcome.GOODBYE),
            "in a conversation: speaking",
        ),
        (131_000.0, StateChanged(State.SPEAKING, State.IDLE), "listening for 'hey jarvis'"),
        (140_000.0, StateChanged(State.IDLE, State.OFFLINE), "offline since 10:42, retrying"),
        (150_000.0, ErrorReported("invalid_api_key", "refused"), None),
        (
            150_000.0,
            StateChanged(State.OFFLINE, State.ERROR),
            "stopped by an error: invalid_api_key",
        ),
    ]
    for t_ms, report, status in steps:
        svc.report(t_ms, report)  # type: ignore[arg-type]
        sent = notify.drain()
        assert sent == ([] if status is None else [{"STATUS": status}]), report
    svc.set_muted(True, 151_000.0)
    assert notify.drain() == [{"STATUS": "muted"}]


async def test_run_refreshes_the_conversation_length(notify: NotifyReader) -> None:
    """STATUS= turns to "(2 min)" from run's tick, without a report."""
    ports = FakePorts()
    svc = SystemdService(
        lambda text: __import__("systemd.daemon").daemon.notify(text),
        watchdog_s=None,
        status_refresh_s=0.01,
    )
    svc.report(0.0, READY)
    svc.report(-119_950.0, ConversationStarted("c1", "button"))  # the ports' clock starts at 0
    svc.report(0.0, StateChanged(State.IDLE, State.LISTENING))
    assert notify.drain()[-1] == {"STATUS": "in a conversation (1 min): listening"}
    task = asyncio.create_task(svc.run(ports))
    try:
        seen = await notify.wait_for("STATUS")
        assert seen[-1]["STATUS"] == "in a conversation (2 min): listening"
    finally:
        task.cancel()


async def test_watchdog_pings_while_healthy_and_stops_when_the_mic_stalls(
    notify: NotifyReader, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="device.systemd")
    svc = service(monkeypatch, watchdog_usec=40_000)  # a ping every 20 ms
    ports = FakePorts()
    task = asyncio.create_task(svc.run(ports))
    try:
        await ports.ticks(3)
        assert not any("WATCHDOG" in m for m in notify.drain())  # not before Ready
        svc.report(0.0, READY)
        await notify.wait_for("WATCHDOG", count=3)

        ports.health_now = MIC_STALLED
        await ports.ticks(2)
        notify.drain()  # what was sent before the first unhealthy tick
        await ports.ticks(10)  # ten ticks, 200 ms: ten pings were due
        assert not any("WATCHDOG" in m for m in notify.drain())
        stopped = [r for r in caplog.records if "not telling systemd" in r.getMessage()]
        assert len(stopped) == 1  # once, not each tick
        assert "no microphone frame for 5.0 s" in stopped[0].getMessage()
        assert stopped[0].levelno == logging.ERROR

        ports.health_now = HEALTHY
        await notify.wait_for("WATCHDOG")
        assert any("alive again" in r.getMessage() for r in caplog.records)
    finally:
        task.cancel()


async def test_no_pings_while_the_loop_probe_is_stale(
    notify: NotifyReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = service(monkeypatch, watchdog_usec=40_000)
    ports = FakePorts(LOOP_STALE)
    svc.report(0.0, READY)
    notify.drain()
    task = asyncio.create_task(svc.run(ports))
    try:
        await ports.ticks(10)
        assert not any("WATCHDOG" in m for m in notify.drain())
    finally:
        task.cancel()


@pytest.mark.slow
async def test_a_blocked_loop_stops_the_pings(
    notify: NotifyReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pinger is a task on the daemon's loop, not a timer: while the loop is blocked
    (a callback that never yields) no WATCHDOG=1 leaves, though health looks fine."""
    svc = service(monkeypatch, watchdog_usec=40_000)
    ports = FakePorts()
    svc.report(0.0, READY)
    notify.drain()
    arrivals: list[float] = []
    stop = threading.Event()
    notify.sock.setblocking(True)
    notify.sock.settimeout(0.05)

    def read() -> None:  # the service manager's side, on its own thread
        while not stop.is_set():
            try:
                if "WATCHDOG" in notify.sock.recv(4096).decode():
                    arrivals.append(time.monotonic())
            except TimeoutError:
                pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    task = asyncio.create_task(svc.run(ports))
    try:
        await ports.ticks(5)
        blocked_from = time.monotonic()
        time.sleep(0.4)  # the fault under test: the event loop blocked for 400 ms
        blocked_to = time.monotonic()
        await ports.ticks(5)
    finally:
        task.cancel()
        stop.set()
        reader.join()
    during = [t for t in arrivals if blocked_from + 0.005 < t < blocked_to]
    assert during == []
    assert any(t < blocked_from for t in arrivals)
    assert any(t > blocked_to for t in arrivals)


async def test_close_sends_stopping_once(
    notify: NotifyReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = service(monkeypatch)
    svc.report(0.0, READY)
    notify.drain()
    await svc.close()
    await svc.close()
    assert notify.drain() == [{"STOPPING": "1", "STATUS": "stopping: closing audio and lights"}]
    svc.report(1.0, StateChanged(State.IDLE, State.OFFLINE))
    assert notify.drain() == []


def test_a_send_that_fails_is_logged_once_never_raised(
    notify: NotifyReader, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path) + "-gone")
    svc = service(monkeypatch)
    svc.report(0.0, READY)
    svc.report(1.0, StateChanged(State.IDLE, State.OFFLINE))
    warnings = [r for r in caplog.records if "cannot notify" in r.getMessage()]
    assert len(warnings) == 1


def test_send_is_systemd_python(notify: NotifyReader, monkeypatch: pytest.MonkeyPatch) -> None:
    """The factory's sender is libsystemd's sd_notify (systemd-python), not a fallback."""
    import systemd.daemon

    calls: list[str] = []
    real: Callable[..., bool] = systemd.daemon.notify

    def spy(text: str) -> bool:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(systemd.daemon, "notify", spy)
    service(monkeypatch).report(0.0, READY)
    assert calls == ["READY=1\nSTATUS=listening for 'hey jarvis'"]
    assert notify.drain() == [{"READY": "1", "STATUS": "listening for 'hey jarvis'"}]
