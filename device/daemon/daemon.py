"""The daemon's wiring: tasks, lanes, timers and the adapters around the pure engine.

Everything here runs on one asyncio loop. Threads (PortAudio callbacks, later gpiozero and
model workers) reach the loop only through ``loop.call_soon_threadsafe`` (the audio
adapters, `Daemon.trigger`). ``Daemon.dispatch`` feeds one event to the engine and carries
out what it returns at once, in order: commands to adapters, reports to the sinks.

- Lanes (device/daemon/lanes.py): control commands before queued audio; audio bounded.
- Sinks (device/services/sinks.py): timeline, run summary, log; LEDs, systemd and metrics later.
- Supervisor (device/daemon/supervisor.py): every task; none fails silently.
- One clock: ``now_ms`` and every timer come from the event loop's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from device.audio.frames import SPEECH_RATE_HZ, pcm_ms
from device.audio.pipeline import CapturePipeline
from device.audio.seam import AudioInput, AudioOutput
from device.buttons.ptt import PushToTalk
from device.config.settings import Settings
from device.conversation import (
    REPORT_TYPES,
    AwaitPlayback,
    CancelTimer,
    Connect,
    Conversation,
    DeviceHealth,
    Disconnect,
    Event,
    HoldUpload,
    InterruptRequested,
    LinkLost,
    Output,
    Play,
    PlaybackIdle,
    PlayPrompt,
    ProbeLink,
    Reconnect,
    RunTool,
    Send,
    SetTimer,
    StartRequested,
    State,
    StopPlayback,
    StopRequested,
    TimerFired,
    Upload,
)
from device.conversation.reports import (
    ErrorReported,
    Report,
    WorkerFailed,
)
from device.daemon.audio_path import AudioWiring, holds_echo
from device.daemon.engine_policy import conversation_policy
from device.daemon.lanes import Lanes
from device.daemon.link_manager import LinkManager, LiveSession
from device.daemon.session_keeper import LinkWiring
from device.daemon.supervisor import Supervisor
from device.daemon.tool_runner import ToolWiring
from device.prompts.library import PromptLibrary
from device.realtime.commands import LinkCommand
from device.services.sinks import Fanout, LogSink, Sink
from device.services.summary import RunSummary, TimelineSink
from device.services.triggers import Trigger, TriggerAction
from device.tools.base import ToolBox

log = logging.getLogger(__name__)

AUDIO_LANE_MS = 2000  # at most this much caller audio waits for a stalled socket
PLAYBACK_GRACE_S = 5.0  # on top of what is queued, before a stuck speaker is given up


class Link(Protocol):
    """What the daemon needs of a Realtime link (device.realtime.link.RealtimeLink)."""

    close_code: int | None

    async def send(self, command: LinkCommand) -> None: ...

    def events(self) -> Any: ...

    async def close(self) -> None: ...


LinkFactory = Callable[[], Awaitable[Link]]


@dataclass(frozen=True)
class RunOptions:
    # file input: stop once the caller's file is done, or the conversation has ended
    exit_when_input_ends: bool = False
    drain_timeout_s: float = 60.0  # after the input ends, wait at most this long for replies


class Daemon(LinkWiring, AudioWiring, ToolWiring):
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
        options: RunOptions = RunOptions(),
        timeline: TextIO | None = None,
        sinks: Iterable[Sink] = (),
        key_source: str = "",
        wake: Any = None,
        local_vad: Any = None,
        button: Any = None,
        vad_mic: AudioInput | None = None,
    ) -> None:
        """``wake`` (a WakeListener), ``local_vad`` (a VadListener) and ``button`` (a
        GpioButton, built with ``on_event=daemon.on_button``) are optional adapters; the
        listeners get the 16 kHz fan-out once the microphone runs. ``vad_mic`` (the raw mic
        of ``audio.echo.raw_input``) feeds ``local_vad`` instead of ``mic``."""
        self.settings = settings
        self.mic = mic
        self.speaker = speaker
        self._connect = connect
        self.toolbox = toolbox
        self.prompts = prompts or PromptLibrary({})
        self.options = options
        self.engine = Conversation(conversation_policy(settings, toolbox))
        self.timeline = timeline
        self.summary = RunSummary()
        self.sinks = Fanout([self.summary, LogSink()])
        if timeline is not None and settings.logging.timeline:
            self.sinks.add(TimelineSink(timeline))
        for sink in sinks:
            self.sinks.add(sink)
        self.link: Link | None = None
        self.session: LiveSession | None = None
        self.key_source = key_source  # where the API key came from, for a refused key
        self._links: LinkManager | None = None
        self._standby_wanted = asyncio.Event()
        self._probe = asyncio.Event()
        self._waiters: list[asyncio.Future[LiveSession]] = []
        self._link_down = False  # the standby keeper could not get a session last time
        self.uploading = False
        self.pipeline: CapturePipeline | None = None
        chunk_ms = max(1, settings.audio.upload_chunk_ms)
        self.lanes = Lanes(max_audio=AUDIO_LANE_MS // chunk_ms)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0
        self._sup: Supervisor | None = None
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._input_ended = False
        self._listening = asyncio.Event()
        self._conversations = 0
        self._prompt_n = 0
        self._audio_ids = 0
        self._hold_open = False
        self._closing: set[Link] = set()  # links being closed (closed for sure at exit)
        self.wake = wake
        self.local_vad = local_vad
        self.vad_mic = vad_mic
        self.button = button
        b = settings.button
        self.ptt: PushToTalk | None = (
            PushToTalk(
                b.mode,
                min_press_ms=b.min_press_ms,
                min_talk_ms=b.min_talk_ms,
                long_press_ms=b.long_press_s * 1000.0,
            )
            if button is not None
            else None
        )
        self._ptt_timer: asyncio.TimerHandle | None = None
        self._kept: deque[tuple[float, bytes]] = deque()
        self._wake_end_ms: float | None = None
        self._first_frame_ms: float | None = None
        self._vad_first_frame_ms: float | None = None  # the raw mic's (audio.echo.raw_input)
        self._holds_echo = holds_echo(settings, local_vad)
        self.failed: str | None = None  # why the daemon gave up (a worker kept failing)

    # -- time and events ----------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._t0 = self._loop.time()
        return self._loop

    def now_ms(self) -> float:
        """ms since the daemon started, on the event loop's clock (the timers' clock too)."""
        return (self.loop.time() - self._t0) * 1000.0

    def dispatch(self, event: Event) -> None:
        """Feed one event to the engine and carry out what it returns (on the loop thread)."""
        was_active = self.engine.active
        for output in self.engine.handle(event, self.now_ms()):
            self._execute(output)
        if was_active and not self.engine.active:
            self._visitor_left()
        state = self.engine.state
        if state is State.LISTENING or (state is State.IDLE and self.wake is not None):
            self._listening.set()  # a file caller speaks (to the wake word, when idle)
        else:
            self._listening.clear()
        self._speaking_changed()
        if self.pipeline is not None:  # nobody here: capture in 80 ms batches (cheaper)
            self.pipeline.set_batching(not self.engine.active)
        self._changed.set()

    def _visitor_left(self) -> None:
        """A conversation ended, however: forget its audio; ready the next visitor's session.

        The capture pipeline is reset now, not when the next visitor starts (the gate and
        the resampler are warm when they do, so their first words go up at once).
        """
        if self.pipeline is not None:
            self.pipeline.reset(keep_gate=True)
        self._kept.clear()
        forget = getattr(self.speaker, "forget", None)
        if forget is not None:  # the playback clock's per-item counts of that visitor
            forget(None)
        if self.settings.realtime.standby:
            self._standby_wanted.set()

    def emit(self, report: Report) -> None:
        """Hand one report to every sink (the daemon's own reports use this too)."""
        self.sinks.emit(self.now_ms(), report)

    def health(self, ok: bool, message: str) -> None:
        """For audio adapters: a device went missing or came back."""
        self.dispatch(DeviceHealth(ok, message))

    def request_start(self, source: str) -> None:
        self.dispatch(StartRequested(source))

    def trigger(self, trigger: Trigger) -> None:
        """The one entry for wake word, button, signal and start-up; safe from any thread."""
        loop = self.loop if self._loop is None else self._loop
        loop.call_soon_threadsafe(self._on_trigger, trigger)

    def _on_trigger(self, trigger: Trigger) -> None:
        match trigger.action:
            case TriggerAction.START:
                self.dispatch(StartRequested(trigger.source))
            case TriggerAction.END:
                self.dispatch(StopRequested(f"ended by {trigger.source}"))
            case TriggerAction.INTERRUPT:
                self.dispatch(InterruptRequested(trigger.source))

    def stop(self) -> None:
        self._stop.set()
        self._changed.set()

    def fail(self, reason: str) -> None:
        """A worker kept failing: stop serving, with a clear line and a non-zero exit."""
        self.failed = reason
        log.error("giving up: %s", reason)
        self.stop()

    def _spawn(
        self,
        name: str,
        factory: Callable[[], Any],
        *,
        restart: bool = False,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        if self._sup is None:
            raise RuntimeError("the daemon is not running")
        self._sup.spawn(name, factory, restart=restart, on_error=on_error)

    def _worker_failed(self, name: str, exc: BaseException, restarted: bool) -> None:
        self.emit(WorkerFailed(name, f"{type(exc).__name__}: {exc}", restarted))

    def _execute(self, output: Output) -> None:
        if isinstance(output, REPORT_TYPES):
            self.emit(output)
            return
        match output:
            case Send(command=command):
                if self.link is not None:
                    self.lanes.put_control(command)
            case Play(item_id=item_id, pcm=pcm):
                self.speaker.write(item_id, pcm)
                self.summary.reply_audio_ms += pcm_ms(len(pcm), SPEECH_RATE_HZ)
            case PlayPrompt(name=name):
                self._play_prompt(name)
            case StopPlayback(source=source, items=items, device_initiated=device):
                self._stop_playback(source, items, device)
            case Upload(on=on):
                self._set_uploading(on)
            case HoldUpload(on=on):
                self._set_hold(on)
            case Connect(conversation_id=conversation_id):
                self._conversations += 1
                if self.toolbox is not None:
                    self.toolbox.start_conversation(conversation_id)
                self._spawn(
                    "realtime link",
                    self._open_link,
                    on_error=lambda exc: self.dispatch(LinkLost(f"opening the link failed: {exc}")),
                )
            case Disconnect():
                self._close_link()
            case Reconnect():
                self._close_link(next_visitor=False)
                self._spawn("reconnect", self._reconnect)
            case ProbeLink():
                self._probe.set()
            case RunTool(call=call, context=context):
                self._start_tool(call, context)
            case AwaitPlayback():
                self._spawn(
                    "playback",
                    self._await_playback,
                    on_error=lambda _: self.dispatch(PlaybackIdle()),
                )
            case SetTimer(name=name, delay_ms=delay_ms):
                self._cancel_timer(name)
                self._timers[name] = self.loop.call_later(delay_ms / 1000.0, self._fire_timer, name)
            case CancelTimer(name=name):
                self._cancel_timer(name)

    def _fire_timer(self, name: str) -> None:
        self._timers.pop(name, None)
        self.dispatch(TimerFired(name))

    def _cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    # -- running ------------------------------------------------------------------------

    def _quiet(self) -> bool:
        return not self.engine.busy and self.speaker.queued_ms() == 0

    async def _wait_changed(self, timeout_s: float | None = None) -> None:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._changed.wait()

    async def _until_done(self) -> None:
        while not self._stop.is_set():
            if self.options.exit_when_input_ends and (
                self._input_ended or (self._conversations and not self.engine.active)
            ):
                break
            await self._wait_changed()
        if self._stop.is_set():
            return
        # the input ended: let the replies finish
        deadline = self.loop.time() + self.options.drain_timeout_s
        while not self._quiet() and not self._stop.is_set():
            left = deadline - self.loop.time()
            if left <= 0:
                self.emit(
                    ErrorReported("timeout", "gave up waiting for the reply after the input ended")
                )
                return
            await self._wait_changed(min(left, 0.5))

    async def run(self) -> RunSummary:
        """Serve until stopped (SIGTERM/SIGINT, ``stop()``, or the end of a file input)."""
        loop = self.loop
        self._t0 = loop.time()
        self._sup = Supervisor(on_failure=self._worker_failed, on_fatal=self.fail)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
            loop.add_signal_handler(
                signal.SIGUSR1,
                lambda: self._on_trigger(Trigger(TriggerAction.START, "button (SIGUSR1)")),
            )
        self._links = LinkManager(
            self._connect,
            self.engine.policy.session,
            spawn=self._spawn,
            setup_timeout_s=self.settings.realtime.connect_timeout_s,
        )
        if self.settings.realtime.standby:
            self._standby_wanted.set()
            self._spawn("standby", self._keep_standby, restart=True)
        if self.wake is not None:
            self.wake.start()
        self._spawn("sender", self._send_loop, restart=True)
        self._start_microphones()
        try:
            if self.settings.conversation.start == "at_startup":
                self._on_trigger(Trigger(TriggerAction.START, "start-up"))
            elif self.wake is not None:
                self._listening.set()  # idle: a file caller may say the wake phrase
            await self._until_done()
        finally:
            if self.engine.active:
                self.dispatch(StopRequested("shutting down"))
            for handle in self._timers.values():
                handle.cancel()
            self._timers.clear()
            await self._close_microphones()
            link, self.link = self.link, None
            standby = self._links.take_standby() if self._links else None
            await self._sup.close()
            extra = [x for x in (link, standby.link if standby else None) if x is not None]
            for closing in [*self._closing, *extra]:
                await self._close_quietly(closing)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5.0):
                    await self.speaker.wait_idle()
            await self._close_microphones()
            await self.speaker.close()
            self._close_listeners(getattr(self.button, "close", None))
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
        return self.summary
