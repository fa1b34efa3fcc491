"""The service seam (device/services/ports.py) as a service sees it, on a real daemon:
every report, `stats()`, `health()` that a watchdog can trust, `trigger()`, the `Ready`
report, start under the supervisor and close at exit in reverse order within a deadline;
and the one way into the loop for threads (device/daemon/inbox.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from device.audio.settings import FileInput
from device.audio.wav import WavMic, WavSpeaker
from device.config.settings import Settings
from device.conversation.reports import Ready, Report, WorkerFailed
from device.conversation.state import State
from device.daemon.daemon import Daemon
from device.daemon.drain import RunOptions
from device.daemon.inbox import Inbox
from device.services.ports import CLOSE_DEADLINE_S, Ports
from device.services.triggers import Trigger, TriggerAction
from tests.helpers import (
    QUESTION,
    Seen,
    connect_to,
    eventually,
    eventually_sync,
    live_settings,
    one_turn,
    settings_for,
    stopped,
    validate,
)
from tests.helpers.audio import LiveMic
from tools.realtime_emulator import Emulator

pytestmark = pytest.mark.slow


class Recorder:
    """A service that keeps what it was given: reports, its ports, when it ran and closed."""

    def __init__(self, name: str, closed: list[str], *, fail_runs: int = 0) -> None:
        self.name = name
        self.reports: list[Report] = []
        self.ports: Ports | None = None
        self.runs = 0
        self._closed = closed
        self._fail_runs = fail_runs

    def report(self, t_ms: float, report: Report) -> None:
        self.reports.append(report)

    async def run(self, ports: Ports) -> None:
        self.ports = ports
        self.runs += 1
        if self.runs <= self._fail_runs:
            raise RuntimeError("the LED ring fell off")
        await asyncio.Event().wait()  # runs for the daemon's life

    async def close(self) -> None:
        self._closed.append(self.name)


class Hangs(Recorder):
    async def close(self) -> None:
        await asyncio.Event().wait()  # never closes


def live_daemon(settings: Settings, url: str, mic: LiveMic | WavMic, **kw: Any) -> Daemon:
    from device.audio.settings import FileOutput

    assert isinstance(settings.audio.output, FileOutput)
    return Daemon(
        settings,
        mic=mic,
        speaker=WavSpeaker(settings.audio.output),
        connect=connect_to(url, settings),
        **kw,
    )


async def test_services_get_every_report_and_close_in_reverse_order(tmp_path: Path) -> None:
    closed: list[str] = []
    first, second = Recorder("first", closed), Recorder("second", closed)
    async with Emulator(one_turn(), on_event=validate) as emu:
        settings = live_settings(tmp_path)
        daemon = live_daemon(settings, emu.url, LiveMic(), services=[first, second])
        task = asyncio.create_task(daemon.run())
        await eventually(lambda: daemon.ready is not None, task=task)
        assert [r for r in first.reports if isinstance(r, Ready)] == [daemon.ready]
        assert daemon.ready is not None and daemon.ready.standby and not daemon.ready.offline
        await eventually(lambda: first.ports is not None and second.ports is not None)
        daemon.stop()
        await stopped(task)
    assert closed == ["second", "first"]
    assert first.reports == second.reports and first.reports


async def test_a_service_that_fails_is_restarted_and_one_that_hangs_cannot_hold_the_exit(
    tmp_path: Path,
) -> None:
    closed: list[str] = []
    flaky = Recorder("flaky", closed, fail_runs=1)
    stuck = Hangs("stuck", closed)
    seen = Seen()
    async with Emulator(one_turn(), on_event=validate) as emu:
        daemon = live_daemon(
            live_settings(tmp_path), emu.url, LiveMic(), services=[flaky, stuck], sinks=[seen]
        )
        task = asyncio.create_task(daemon.run())
        await eventually(lambda: flaky.runs == 2, task=task)
        failed = [r for r in seen.reports if isinstance(r, WorkerFailed)]
        assert [(f.name, f.restarted) for f in failed] == [("service flaky", True)]
        assert daemon.stats().worker_failures == 1
        start = time.monotonic()
        daemon.stop()
        await stopped(task, timeout_s=CLOSE_DEADLINE_S + 10)
        assert time.monotonic() - start < CLOSE_DEADLINE_S + 6
    assert closed == ["flaky"]  # the stuck one was given up on at the deadline


async def test_stats_count_a_conversation_where_it_happened(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, QUESTION)
    assert isinstance(settings.audio.input, FileInput)
    async with Emulator(one_turn(), on_event=validate) as emu:
        daemon = live_daemon(
            settings,
            emu.url,
            WavMic(settings.audio.input),
            options=RunOptions(exit_when_input_ends=True, drain_timeout_s=20),
        )
        summary = await daemon.run()
    stats = daemon.stats()
    assert summary.conversations == stats.conversations == 1
    assert stats.outcomes == {"shutdown": 1}  # the caller's file ended, then the daemon
    assert stats.sessions_opened == 1 and stats.reply_audio_ms == summary.reply_audio_ms > 0
    assert stats.audio_sent_chunks > 20  # the question went up in 20 ms chunks
    assert stats.audio_dropped == stats.link_malformed == stats.worker_failures == 0


async def test_stats_and_trigger_through_the_ports(tmp_path: Path) -> None:
    service = Recorder("probe", [])
    async with Emulator(one_turn(), on_event=validate) as emu:
        daemon = live_daemon(live_settings(tmp_path), emu.url, LiveMic(), services=[service])
        task = asyncio.create_task(daemon.run())
        ports = await eventually(lambda: service.ports, task=task)
        await eventually(lambda: daemon.ready is not None, task=task)
        before = ports.stats()
        assert before.state == "idle" and before.conversations == 0
        assert before.sessions_opened == 1  # the warm standby
        # a service starts and ends a conversation from its own thread
        threading.Thread(
            target=ports.trigger, args=(Trigger(TriggerAction.START, "staff"),)
        ).start()
        await eventually(lambda: daemon.engine.state is State.LISTENING, task=task)
        ports.trigger(Trigger(TriggerAction.END, "staff page"))
        await eventually(lambda: ports.stats().outcomes.get("ended_by_caller") == 1, task=task)
        assert ports.stats().conversations == 1
        # the visitor's session was the standby; the next visitor's is opened after them
        await eventually(lambda: ports.stats().sessions_opened == 2, task=task)
        daemon.stop()
        await stopped(task)


async def test_health_names_a_stalled_microphone_and_a_blocked_loop(tmp_path: Path) -> None:
    mic = LiveMic()
    async with Emulator(one_turn(), on_event=validate) as emu:
        daemon = live_daemon(live_settings(tmp_path), emu.url, mic)
        task = asyncio.create_task(daemon.run())
        await eventually(lambda: daemon.ready is not None, task=task)
        await eventually(
            lambda: daemon.health().ok, context=lambda: str(daemon.health().problems())
        )
        mic.stalled.set()
        problems = await eventually(
            lambda: [p for p in daemon.health().problems() if "microphone" in p], timeout_s=10
        )
        assert problems[0].startswith("no microphone frame for")
        # a blocked loop: a watchdog thread reading health sees the probe stop
        seen_blocked: list[str] = []

        def watchdog() -> None:
            eventually_sync(
                lambda: [p for p in daemon.health().problems() if "event loop" in p],
                timeout_s=5,
            )
            seen_blocked.append("blocked")

        reader = threading.Thread(target=watchdog)
        reader.start()
        time.sleep(2.6)  # the loop itself is blocked here: nothing on it runs
        reader.join(5)
        assert seen_blocked == ["blocked"]
        daemon.stop()
        await stopped(task)


async def test_ready_says_offline_when_the_server_cannot_be_reached(tmp_path: Path) -> None:
    daemon = live_daemon(
        live_settings(tmp_path, connect_timeout_s=1.0), "ws://127.0.0.1:9/v1/realtime", LiveMic()
    )
    task = asyncio.create_task(daemon.run())
    ready = await eventually(lambda: daemon.ready, task=task)
    assert ready.offline and not ready.standby
    daemon.stop()
    await stopped(task)


async def test_the_inbox_brings_a_thread_to_the_loop_and_drops_what_comes_unbound() -> None:
    calls: list[tuple[str, bool]] = []
    loop = asyncio.get_running_loop()

    class Handler:
        def on_trigger(self, trigger: Trigger) -> None:
            calls.append((trigger.source, threading.current_thread() is threading.main_thread()))

        def on_wake(self, model: str, score: float, end_sample: int) -> None: ...

        def on_local_speech(self, start_sample: int) -> None: ...

        def on_local_pause(self, pause_ms: float, expired: bool) -> None: ...

        def on_button(self, event: Any) -> None: ...

        def on_device_health(self, ok: bool, message: str) -> None: ...

    inbox = Inbox()
    inbox.trigger(Trigger(TriggerAction.START, "too early"))
    assert inbox.dropped == 1
    inbox.bind(loop, Handler())
    thread = threading.Thread(target=inbox.trigger, args=(Trigger(TriggerAction.START, "gpio"),))
    thread.start()
    thread.join()
    await eventually(lambda: calls)
    assert calls == [("gpio", True)]  # handled on the loop's (the main) thread
    inbox.unbind()
    inbox.trigger(Trigger(TriggerAction.START, "too late"))
    assert inbox.dropped == 2
