"""The daemon's wiring: tasks, lanes, timers and the adapters around the pure engine.

Everything here runs on one asyncio loop. Threads (PortAudio callbacks, later gpiozero and
model workers) reach the loop only through ``loop.call_soon_threadsafe`` (the audio
adapters, `Daemon.trigger`). ``Daemon.dispatch`` feeds one event to the engine and carries
out what it returns at once, in order: commands to adapters, reports to the sinks.

- Lanes (device/lanes.py): control commands before queued audio; audio bounded.
- Sinks (device/sinks.py): timeline, run summary, log; LEDs, systemd and metrics later.
- Supervisor (device/supervisor.py): every task; none fails silently.
- One clock: ``now_ms`` and every timer come from the event loop's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from device.audio.frames import SPEECH_RATE_HZ, pcm_ms
from device.audio.pipeline import CapturePipeline
from device.audio.seam import AudioInput, AudioOutput
from device.conversation import (
    REPORT_TYPES,
    AwaitPlayback,
    CancelTimer,
    Connect,
    Conversation,
    ConversationPolicy,
    DeviceHealth,
    Disconnect,
    Event,
    HoldUpload,
    InterruptRequested,
    LinkLost,
    LinkStatus,
    Output,
    Play,
    PlaybackIdle,
    PlaybackStopped,
    PlayPrompt,
    ProbeLink,
    Reconnect,
    ReconnectFailed,
    RunTool,
    Send,
    SessionReady,
    SetTimer,
    StartRequested,
    State,
    StopPlayback,
    StopRequested,
    TimerFired,
    ToolFinished,
    Upload,
)
from device.conversation.reports import (
    ErrorReported,
    Note,
    PromptPlayed,
    Report,
    WorkerFailed,
)
from device.lanes import Lanes
from device.link_manager import LinkManager, LiveSession, classify_link_failure, failure_kind
from device.prompts import PromptLibrary
from device.realtime.commands import AppendAudio, LinkCommand, SessionSpec
from device.realtime.events import ServerEvent
from device.retry import Classified, Failure, RetryGaveUp, RetryPolicy, retry
from device.settings import Settings
from device.sinks import Fanout, LogSink, Sink
from device.summary import RunSummary, TimelineSink
from device.supervisor import Supervisor
from device.text import one_line
from device.tools.base import ToolAction, ToolBox, ToolCall, ToolContext, ToolResult
from device.triggers import Trigger, TriggerAction

log = logging.getLogger(__name__)

AUDIO_LANE_MS = 2000  # at most this much caller audio waits for a stalled socket
SEND_TIMEOUT_S = 5.0  # one frame that cannot go out in this long: the socket is stuck
CLOSE_TIMEOUT_S = 5.0
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


def conversation_policy(settings: Settings, toolbox: ToolBox | None) -> ConversationPolicy:
    """The engine's policy from the settings and the tools (declared neutrally)."""
    tools = tuple(toolbox.declarations()) if toolbox else ()
    extra = toolbox.instructions() if toolbox else ""
    return ConversationPolicy(
        session=SessionSpec(settings.realtime, tools=tools, extra_instructions=extra),
        idle_timeout_ms=settings.conversation.idle_timeout_s * 1000.0,
        max_duration_ms=settings.conversation.max_duration_s * 1000.0,
        slow_tool_ms=float(settings.tools.slow_filler_ms),
        device_name=settings.device.name,
        site=settings.device.site,
        confirm_tools=frozenset(
            t.name for t in tools if toolbox and toolbox.needs_confirmation(t.name)
        ),
        transcribes=settings.realtime.transcription.enabled,
        setup_timeout_ms=settings.realtime.connect_timeout_s * 1000.0,
        reply_stall_ms=settings.realtime.reply_stall_s * 1000.0,
        server_interrupts=getattr(settings.realtime.turn_detection, "interrupt_response", False),
        back_online_prompt=settings.conversation.back_online_prompt,
    )


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
        options: RunOptions = RunOptions(),
        timeline: TextIO | None = None,
        sinks: Iterable[Sink] = (),
        key_source: str = "",
    ) -> None:
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
        for output in self.engine.handle(event, self.now_ms()):
            self._execute(output)
        if self.engine.state is State.LISTENING:
            self._listening.set()
        else:
            self._listening.clear()
        self._changed.set()

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
                self.uploading = on
                if not on:
                    self._set_hold(False)
            case HoldUpload(on=on):
                self._set_hold(on)
            case Connect(conversation_id=conversation_id):
                self._conversations += 1
                if self.pipeline is not None:
                    self.pipeline.reset()
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
                self._spawn(
                    f"tool {call.name}",
                    lambda: self._run_tool(call, context),
                    on_error=lambda exc: self._tool_crashed(call, exc),
                )
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

    def _stop_playback(self, source: str, items: tuple[str, ...], device: bool) -> None:
        """Silence the speaker first, then read the playback clock for the truncation."""
        self.speaker.flush()
        heard_of = getattr(self.speaker, "heard_ms", self.speaker.played_ms)
        heard = tuple((item, float(heard_of(item))) for item in items)
        self.loop.call_soon(self.dispatch, PlaybackStopped(source, heard, device))

    def _set_hold(self, on: bool) -> None:
        self._hold_open = on
        if self.pipeline is not None:
            self.pipeline.set_hold_open(on)

    def _play_prompt(self, name: str) -> None:
        prompt = self.prompts.get(name)
        if not prompt:
            self.emit(Note(f"no prompt '{name}' to play"))
            return
        self._prompt_n += 1
        self.speaker.write(f"prompt:{name}:{self._prompt_n}", prompt)
        ms = pcm_ms(len(prompt), SPEECH_RATE_HZ)
        self.summary.prompt_audio_ms += ms
        self.emit(PromptPlayed(name, ms))

    def _fire_timer(self, name: str) -> None:
        self._timers.pop(name, None)
        self.dispatch(TimerFired(name))

    def _cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    # -- the link -----------------------------------------------------------------------

    def _retry_policy(self) -> RetryPolicy:
        rt = self.settings.realtime
        return RetryPolicy(
            base_s=rt.reconnect_base_s,
            cap_s=rt.reconnect_cap_s,
            auth_retry_s=rt.auth_retry_s,
            classify=classify_link_failure,
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
            return await retry(manager.open_ready, self._retry_policy(), budget_s=budget_s)
        waiter: asyncio.Future[LiveSession] = self.loop.create_future()
        self._waiters.append(waiter)
        self._standby_wanted.set()
        self._probe.set()
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
            return
        self._adopt(session)
        self.dispatch(SessionReady())

    async def _reconnect(self) -> None:
        """Mid-conversation: a new session within the retry budget, then restore."""
        budget_s = self.settings.realtime.reconnect_budget_s
        session = self._manager().take_standby()
        try:
            if session is None:
                session = await retry(
                    self._manager().open_ready, self._retry_policy(), budget_s=budget_s
                )
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
                    manager.open_ready, self._retry_policy(), on_failure=failed, wake=self._probe
                )
            except RetryGaveUp:  # not worth retrying by itself: wait for a probe (a press)
                self._probe.clear()
                await self._probe.wait()
                continue
            if down:
                down = False
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

    # -- audio --------------------------------------------------------------------------

    async def _mic_loop(self) -> None:
        """Microphone frames through the capture pipeline; gated chunks go up while listening.

        A file input stands for a caller who speaks only while the device listens: it is
        read while the conversation is LISTENING and held while the device thinks, speaks
        or runs a tool (so a file holding several questions plays them turn by turn).
        """
        audio = self.settings.audio
        turn_taking = audio.input.type == "file"
        if turn_taking:
            await self._listening.wait()
        async for frame in self.mic.frames():
            if turn_taking and not self._listening.is_set():
                await self._listening.wait()
            if self.pipeline is None:
                channel = getattr(audio.input, "channel", 0)
                self.pipeline = CapturePipeline(
                    frame.rate_hz,
                    frame.channels,
                    channel,
                    audio.gate,
                    audio.upload_chunk_ms,
                    upload_rate_hz=SPEECH_RATE_HZ,
                )
                self.pipeline.set_hold_open(self._hold_open)
            chunks = self.pipeline.process(frame)
            if self.uploading and self.link is not None:
                for chunk in chunks:
                    self._audio_ids += 1
                    self.lanes.put_audio(AppendAudio(chunk, event_id=f"aud_{self._audio_ids}"))
        self._input_ended = True
        self._changed.set()

    async def _await_playback(self) -> None:
        timeout_s = self.speaker.queued_ms() / 1000.0 * 2 + PLAYBACK_GRACE_S
        try:
            async with asyncio.timeout(timeout_s):
                await self.speaker.wait_idle()
        except TimeoutError:
            self.emit(ErrorReported("speaker", f"playback did not finish within {timeout_s:.0f} s"))
        self.dispatch(PlaybackIdle())

    async def _run_tool(self, call: ToolCall, context: ToolContext) -> None:
        if self.toolbox is None:
            result = ToolResult("No tools are configured on this device.", False, 0.0)
        else:
            result = await self.toolbox.run(call, context)
        self.dispatch(ToolFinished(call.call_id, result))

    def _tool_crashed(self, call: ToolCall, exc: BaseException) -> None:
        """A tool box must not raise; if it does, the model hears a plain failure."""
        result = ToolResult(
            f"The tool {call.name} failed on the device.", False, 0.0, ToolAction.CONTINUE
        )
        self.dispatch(ToolFinished(call.call_id, result))

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
        self._spawn("sender", self._send_loop, restart=True)
        self._spawn("microphone", self._mic_loop, restart=True)
        try:
            if self.settings.conversation.start == "at_startup":
                self._on_trigger(Trigger(TriggerAction.START, "start-up"))
            await self._until_done()
        finally:
            if self.engine.active:
                self.dispatch(StopRequested("shutting down"))
            for handle in self._timers.values():
                handle.cancel()
            self._timers.clear()
            await self.mic.close()  # its frames() ends by itself, even if a cancel is lost
            link, self.link = self.link, None
            standby = self._links.take_standby() if self._links else None
            await self._sup.close()
            extra = [x for x in (link, standby.link if standby else None) if x is not None]
            for closing in [*self._closing, *extra]:
                await self._close_quietly(closing)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5.0):
                    await self.speaker.wait_idle()
            await self.mic.close()
            await self.speaker.close()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
        return self.summary
