"""The daemon: the pure engine among its parts, one loop, one clock.

`Daemon.dispatch` feeds one event to the engine (device/conversation/) and carries out
what it returns at once, in order: commands to the part that owns them, reports to the
services and sinks. The parts own their fields and are built here with what they need:

- `SessionKeeper` (session_keeper.py): the Realtime session, the warm standby,
  reconnects, and the sender that drains the two `Lanes` (control before audio);
- `AudioPath` (audio_path.py): microphones, capture pipeline, 16 kHz listeners, speaker;
- `ToolRunner` (tool_runner.py), `TalkButton` (talk_button.py), `Timers` (timers.py);
- `ServiceHost` (device/services/host.py): every report to each sink and service; the
  services run under the supervisor and are closed at exit, in reverse order;
- `Supervisor` (supervisor.py): every task; none fails silently;
- `Heartbeat` (heartbeat.py): the last microphone frame and the loop probe, for `health`.

Parts learn the conversation's state from ``StateChanged`` reports (`_state_changed`),
never by reading the engine. Threads reach the loop only through the `Inbox` (inbox.py).
One clock: ``now_ms`` and every timer come from the event loop's clock.

What a service gets (its ports, device/services/ports.py): every report, `stats`,
`health`, `trigger`, and the ``Ready`` report once the device can serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Protocol, TextIO

from device.audio.seam import AudioInput, AudioOutput
from device.buttons.ptt import ButtonEvent
from device.common.text import one_line
from device.config.settings import Settings
from device.conversation import (
    REPORT_TYPES,
    Conversation,
    DeviceHealth,
    Event,
    InterruptRequested,
    LinkStatus,
    Output,
    StartRequested,
    StopRequested,
    TimerFired,
)
from device.conversation.reports import (
    ErrorReported,
    MuteChanged,
    Note,
    Outcome,
    Ready,
    ReplyPaused,
    Report,
    StateChanged,
    WorkerFailed,
)
from device.daemon.audio_path import AudioPath
from device.daemon.drain import RunOptions, until_done
from device.daemon.engine_policy import conversation_policy
from device.daemon.heartbeat import Heartbeat
from device.daemon.inbox import Inbox
from device.daemon.lanes import Lanes
from device.daemon.listeners import LocalVad, WakeWord
from device.daemon.readings import read_health, read_stats
from device.daemon.router import CommandRouter
from device.daemon.session_keeper import LinkFactory, SessionKeeper
from device.daemon.signals import install_signals, remove_signals
from device.daemon.supervisor import Supervisor
from device.daemon.talk_button import TalkButton
from device.daemon.timers import Timers
from device.daemon.tool_runner import ToolRunner
from device.prompts.library import PromptLibrary
from device.services.host import ServiceHost
from device.services.ports import AudioTap, Health, Service, Sink, Stats
from device.services.sinks import LogSink
from device.services.summary import RunSummary, TimelineSink
from device.services.tally import Tally
from device.services.triggers import Trigger, TriggerAction
from device.tools.base import ToolBox

log = logging.getLogger(__name__)

AUDIO_LANE_MS = 2000  # at most this much caller audio waits for a stalled socket
SPEAKER_IDLE_AT_EXIT_S = 5.0


class Closeable(Protocol):
    def close(self) -> None: ...


class Switch(Closeable, Protocol):
    @property
    def is_muted(self) -> bool: ...


class Daemon:
    """One device: a microphone, a speaker, a Realtime link per conversation, tools."""

    def __init__(
        self,
        settings: Settings,
        *,
        mic: AudioInput,
        speaker: AudioOutput,
        connect: LinkFactory,
        toolbox: ToolBox | None = None,
        prompts: PromptLibrary | None = None,
        options: RunOptions | None = None,
        timeline: TextIO | None = None,
        sinks: Iterable[Sink] = (),
        services: Iterable[Service] = (),
        taps: Iterable[AudioTap] = (),
        key_source: str = "",
        inbox: Inbox | None = None,
        wake: WakeWord | None = None,
        local_vad: LocalVad | None = None,
        button: Closeable | None = None,
        mute_switch: Switch | None = None,
        vad_mic: AudioInput | None = None,
    ) -> None:
        """``wake`` (a WakeListener), ``local_vad`` (a VadListener), ``button`` (a
        GpioButton) and ``mute_switch`` (a MuteSwitch) are optional adapters built with the
        `Inbox`'s methods as their callbacks (``inbox``: the same Inbox). ``vad_mic`` (the
        raw mic of ``audio.echo.raw_input``) feeds ``local_vad`` instead of ``mic``."""
        self.settings = settings
        self.options = options or RunOptions()
        self.engine = Conversation(conversation_policy(settings, toolbox))
        self.timeline = timeline
        self.summary = RunSummary()
        self.tally = Tally()
        self.host = ServiceHost(sinks=[self.tally, self.summary, LogSink()], services=services)
        if timeline is not None and settings.logging.timeline:
            self.host.add(TimelineSink(timeline))
        for sink in sinks:
            self.host.add(sink)
        self.inbox = inbox or Inbox()
        self.supervisor = Supervisor(on_failure=self._worker_failed, on_fatal=self.fail)
        self.heartbeat = Heartbeat()
        self.lanes = Lanes(max_audio=AUDIO_LANE_MS // max(1, settings.audio.upload_chunk_ms))
        self.timers = Timers(lambda name: self.dispatch(TimerFired(name)))
        self.keeper = SessionKeeper(
            settings.realtime,
            self.engine.policy.session,
            connect,
            self.lanes,
            dispatch=self.dispatch,
            emit=self.emit,
            spawn=self.supervisor.spawn,
            key_source=key_source,
        )
        self.audio = AudioPath(
            settings,
            mic=mic,
            speaker=speaker,
            prompts=prompts or PromptLibrary({}),
            lanes=self.lanes,
            heartbeat=self.heartbeat,
            dispatch=self.dispatch,
            emit=self.emit,
            spawn=self.supervisor.spawn,
            link_up=lambda: self.keeper.link is not None,
            wake=wake,
            local_vad=local_vad,
            vad_mic=vad_mic,
            taps=tuple(taps),
            now_ms=self.now_ms,
        )
        self.tools = ToolRunner(toolbox, spawn=self.supervisor.spawn, dispatch=self.dispatch)
        self.router = CommandRouter(self.keeper, self.audio, self.tools, self.timers, self.lanes)
        self.button = button
        self.mute_switch = mute_switch
        self.talk_button = TalkButton(settings.button, self.dispatch) if button else None
        self._t0 = 0.0
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._link_known = asyncio.Event()  # the standby keeper knows up or down
        self._link_ok = False
        self.started = asyncio.Event()  # run() began: its workers are spawned
        self.ready: Ready | None = None
        self.failed: str | None = None  # why the daemon gave up (a worker kept failing)

    # -- time, events and reports ---------------------------------------------------------

    def now_ms(self) -> float:
        """ms since the daemon started, on the event loop's clock (the timers' clock too)."""
        return (asyncio.get_running_loop().time() - self._t0) * 1000.0

    def dispatch(self, event: Event) -> None:
        """Feed one event to the engine and carry out what it returns (on the loop thread)."""
        if isinstance(event, LinkStatus):
            self._link_ok = event.up
            self._link_known.set()
        was_active = self.engine.active
        for output in self.engine.handle(event, self.now_ms()):
            self._execute(output)
        if was_active and not self.engine.active:
            self._visitor_left()
        self._changed.set()

    def emit(self, report: Report) -> None:
        """Hand one report to every sink and service (the daemon's own reports too)."""
        if isinstance(report, StateChanged):
            self._state_changed(report)
        self.host.emit(self.now_ms(), report)

    def _state_changed(self, report: StateChanged) -> None:
        self.keeper.state_changed(report.new)
        self.audio.state_changed(report.new)
        if self.talk_button is not None:
            self.talk_button.state_changed(report.new)

    def _visitor_left(self) -> None:
        """A conversation ended, however: forget its audio; ready the next visitor's session."""
        self.audio.visitor_left()
        self.keeper.visitor_left()

    def _execute(self, output: Output) -> None:
        if isinstance(output, REPORT_TYPES):
            self.emit(output)
        else:
            self.router.carry_out(output)  # a command: to the part that owns it

    # -- the ports of the services --------------------------------------------------------

    def trigger(self, trigger: Trigger) -> None:
        """The one entry for wake word, button, signal, start-up and services; safe from
        any thread (it goes through the `Inbox`)."""
        self.inbox.trigger(trigger)

    def request_start(self, source: str) -> None:
        self.dispatch(StartRequested(source))

    def stats(self) -> Stats:
        """Every counter, read where it lives (device/services/ports.py `Stats`)."""
        return read_stats(
            self.engine.state,
            self.tally,
            self.audio,
            self.lanes,
            self.keeper,
            self.host,
            self.supervisor,
        )

    def health(self) -> Health:
        """The pipeline's heartbeat (safe from any thread: it reads stamps only)."""
        return read_health(self.heartbeat, self.keeper, self.supervisor)

    # -- the inbox's handlers (on the loop thread) -----------------------------------------

    def on_trigger(self, trigger: Trigger) -> None:
        match trigger.action:
            case TriggerAction.START if self.audio.muted:
                self.emit(Note(f"muted: not starting ({one_line(trigger.source, 80)})"))
            case TriggerAction.START:
                self.dispatch(StartRequested(trigger.source))
            case TriggerAction.MUTE | TriggerAction.UNMUTE:
                self._set_muted(trigger.action is TriggerAction.MUTE, trigger.source)
            case TriggerAction.END:
                self.dispatch(StopRequested(f"ended by {trigger.source}"))
            case TriggerAction.INTERRUPT:
                self.dispatch(InterruptRequested(trigger.source))

    def _set_muted(self, muted: bool, source: str) -> None:
        """Muted: nothing is uploaded, the wake word hears nothing, a conversation under
        way ends with the short ``muted`` prompt; unmuted: back to idle."""
        if muted == self.audio.muted:
            return
        self.audio.set_muted(muted)
        self.emit(MuteChanged(muted, source))
        if muted and self.engine.active:
            self.audio.play_prompt("muted")
            self.dispatch(StopRequested(f"muted ({source})", outcome=Outcome.MUTED))

    def on_wake(self, model: str, score: float, end_sample: int) -> None:
        self.audio.woken(model, score, end_sample)

    def on_local_speech(self, start_sample: int) -> None:
        self.audio.send_held_speech(start_sample)
        self.on_trigger(Trigger(TriggerAction.INTERRUPT, "local speech detection"))

    def on_local_pause(self, pause_ms: float, expired: bool) -> None:
        self.emit(ReplyPaused(pause_ms, expired))

    def on_button(self, event: ButtonEvent | None) -> None:
        if self.talk_button is not None:
            self.talk_button.event(event)

    def on_device_health(self, ok: bool, message: str) -> None:
        self.dispatch(DeviceHealth(ok, message))

    # -- running --------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        self._changed.set()

    def fail(self, reason: str) -> None:
        """A worker kept failing: stop serving, with a clear line and a non-zero exit."""
        self.failed = reason
        log.error("giving up: %s", reason)
        self.stop()

    def _worker_failed(self, name: str, exc: BaseException, restarted: bool) -> None:
        self.emit(WorkerFailed(name, f"{type(exc).__name__}: {exc}", restarted))

    def _toggle_mute(self) -> None:
        action = TriggerAction.UNMUTE if self.audio.muted else TriggerAction.MUTE
        self.on_trigger(Trigger(action, "SIGUSR2"))

    async def _announce_ready(self) -> None:
        """``Ready`` once the microphone delivers and the link's fate is known (the warm
        session up, or down with the offline prompts serving)."""
        await self.audio.opened.wait()
        if self.settings.realtime.standby:
            await self._link_known.wait()
        self.ready = Ready(
            round(self.now_ms(), 1),
            standby=self.keeper.standby is not None,
            offline=self.settings.realtime.standby and not self._link_ok,
        )
        self.emit(self.ready)

    async def run(self) -> RunSummary:
        """Serve until stopped (SIGTERM/SIGINT, ``stop()``, or the end of a file input)."""
        loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self.inbox.bind(loop, self)
        self.audio.on_input_ended = self._changed.set
        install_signals(
            loop,
            stop=self.stop,
            start=lambda: self.on_trigger(Trigger(TriggerAction.START, "button (SIGUSR1)")),
            toggle_mute=self._toggle_mute,
        )
        spawn = self.supervisor.spawn
        spawn("loop probe", self.heartbeat.run_probe, restart=True)
        self.keeper.start()
        self.audio.start()
        self.host.start(self, spawn)
        spawn("ready", self._announce_ready)
        if self.mute_switch is not None and self.mute_switch.is_muted:
            self._set_muted(True, "mute switch")
        self.started.set()
        try:
            if self.settings.conversation.start == "at_startup":
                self.on_trigger(Trigger(TriggerAction.START, "start-up"))
            await until_done(
                self.options,
                stop=self._stop,
                changed=self._changed,
                finished=lambda: (
                    self.audio.input_ended
                    or bool(self.tally.conversations and not self.engine.active)
                ),
                quiet=lambda: not self.engine.busy and self.audio.speaker.queued_ms() == 0,
                gave_up=lambda: self.emit(
                    ErrorReported("timeout", "gave up waiting for the reply after the input ended")
                ),
            )
        finally:
            await self._close(loop)
        self.summary.reply_audio_ms = self.audio.reply_audio_ms
        return self.summary

    async def _close(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.engine.active:
            self.dispatch(StopRequested("shutting down", outcome=Outcome.SHUTDOWN))
        self.timers.cancel_all()
        await self.audio.close_microphones()
        await self.supervisor.close()
        await self.keeper.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(SPEAKER_IDLE_AT_EXIT_S):
                await self.audio.speaker.wait_idle()
        await self.audio.close_microphones()
        await self.audio.speaker.close()
        self.audio.close_listeners()
        if self.talk_button is not None:
            self.talk_button.close()
        for adapter in (self.button, self.mute_switch):
            if adapter is not None:
                adapter.close()
        await self.host.close()
        self.inbox.unbind()
        remove_signals(loop)
