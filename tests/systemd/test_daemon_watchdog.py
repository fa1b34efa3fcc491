"""The real daemon under a bound $NOTIFY_SOCKET, as systemd runs it: READY=1 once it can
serve, STATUS= per state, WATCHDOG=1 while the pipeline is alive, and no ping once the
microphone stalls or the loop is blocked (so systemd would restart it)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from device.audio.settings import FileOutput
from device.audio.wav import WavSpeaker
from device.conversation.state import State
from device.daemon.daemon import Daemon
from device.services.ports import MIC_STALE_MS
from device.services.triggers import Trigger, TriggerAction
from device.systemd.service import build_systemd_service
from tests.helpers import (
    connect_to,
    eventually,
    live_settings,
    one_turn,
    stopped,
    validate,
)
from tests.helpers.audio import LiveMic
from tests.helpers.systemd import NotifyReader
from tools.realtime_emulator import Emulator

pytestmark = pytest.mark.slow

WATCHDOG_USEC = 600_000  # pings every 0.3 s


async def test_ready_status_and_a_watchdog_that_stops_when_the_mic_or_the_loop_does(
    tmp_path: Path, notify: NotifyReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    settings = live_settings(tmp_path)
    assert isinstance(settings.audio.output, FileOutput)
    systemd = build_systemd_service(os.environ)
    assert systemd is not None and systemd.watchdog_s is not None
    mic = LiveMic()
    async with Emulator(one_turn(), on_event=validate) as emu:
        daemon = Daemon(
            settings,
            mic=mic,
            speaker=WavSpeaker(settings.audio.output),
            connect=connect_to(emu.url, settings),
            services=[systemd],
        )
        task = asyncio.create_task(daemon.run())
        before_ready = await notify.wait_for("READY", timeout_s=10)
        assert daemon.ready is not None  # READY=1 only once the daemon said Ready
        assert not any("WATCHDOG" in m for m in before_ready[:-1])
        await notify.wait_for("WATCHDOG", count=2)  # alive: pinged

        daemon.trigger(Trigger(TriggerAction.START, "button"))
        await eventually(lambda: daemon.engine.state is State.LISTENING, task=task)
        statuses = [m["STATUS"] for m in await notify.wait_for("STATUS") if "STATUS" in m]
        assert any("conversation" in s for s in statuses), statuses

        mic.stalled.set()  # the audio thread hangs: frames stop
        await asyncio.sleep(MIC_STALE_MS / 1000 + 0.5)
        notify.drain()
        await asyncio.sleep(1.0)
        assert not [m for m in notify.drain() if "WATCHDOG" in m]  # systemd would restart
        daemon.stop()
        await stopped(task)


async def test_a_blocked_loop_sends_no_ping(
    tmp_path: Path, notify: NotifyReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    settings = live_settings(tmp_path)
    assert isinstance(settings.audio.output, FileOutput)
    systemd = build_systemd_service(os.environ)
    assert systemd is not None
    async with Emulator(one_turn(), on_event=validate) as emu:
        daemon = Daemon(
            settings,
            mic=LiveMic(),
            speaker=WavSpeaker(settings.audio.output),
            connect=connect_to(emu.url, settings),
            services=[systemd],
        )
        task = asyncio.create_task(daemon.run())
        await notify.wait_for("WATCHDOG", count=2, timeout_s=10)
        pings: list[float] = []
        done = threading.Event()

        def listen() -> None:  # systemd's side, on its own thread while the loop is blocked
            notify.sock.setblocking(True)
            notify.sock.settimeout(0.05)
            while not done.is_set():
                try:
                    if b"WATCHDOG=1" in notify.sock.recv(4096):
                        pings.append(time.monotonic())
                except TimeoutError:
                    pass

        reader = threading.Thread(target=listen)
        reader.start()
        blocked_at = time.monotonic()
        time.sleep(1.5)  # the event loop is blocked here: five ping intervals
        unblocked_at = time.monotonic()
        await asyncio.sleep(1.5)
        done.set()
        reader.join(2)
        notify.sock.setblocking(False)
        daemon.stop()
        await stopped(task)
    assert not [t for t in pings if blocked_at + 0.05 < t < unblocked_at]
