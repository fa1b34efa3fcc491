"""The daemon's wiring: tasks, queues, timers and the adapters around the pure engine.

Everything here runs on one asyncio loop. Threads (PortAudio callbacks) reach the loop only
through ``loop.call_soon_threadsafe`` inside the audio adapters. ``Daemon.dispatch`` feeds
one event to the engine and carries out its commands at once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from device.audio.frames import LINK_RATE_HZ, pcm_ms
from device.audio.pipeline import CapturePipeline
from device.audio.seam import AudioInput, AudioOutput
from device.conversation import (
    AwaitPlayback,
    CancelTimer,
    Command,
    Connect,
    Conversation,
    ConversationPolicy,
    DeviceHealth,
    Disconnect,
    Event,
    LinkLost,
    Play,
    PlaybackIdle,
    PlayPrompt,
    Report,
    RunTool,
    Send,
    SetTimer,
    StartRequested,
    State,
    StopRequested,
    TimerFired,
    ToolFinished,
    Upload,
)
from device.prompts import PromptLibrary
from device.realtime import protocol
from device.realtime.events import ServerEvent
from device.settings import Settings
from device.summary import RunSummary, timeline_line
from device.tools.base import ToolAction, ToolBox, ToolCall, ToolContext, ToolResult

log = logging.getLogger(__name__)


class Link(Protocol):
    """What the daemon needs of a Realtime link (device.realtime.link.RealtimeLink)."""

    close_code: int | None

    async def send(self, event: dict[str, Any]) -> None: ...

    def events(self) -> Any: ...

    async def close(self) -> None: ...


LinkFactory = Callable[[], Awaitable[Link]]


@dataclass(frozen=True)
class RunOptions:
    # file input: stop once the caller's file is done, or the conversation has ended
    exit_when_input_ends: bool = False
    drain_timeout_s: float = 60.0  # after the input ends, wait at most this long for replies


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.mic = mic
        self.speaker = speaker
        self._connect = connect
        self.toolbox = toolbox
        self.prompts = prompts or PromptLibrary({})
        self.options = options
        self.timeline = timeline
        self._clock = clock
        self._t0 = clock()
        tools = toolbox.declarations() if toolbox else []
        extra = toolbox.instructions() if toolbox else ""
        self.engine = Conversation(
            ConversationPolicy(
                session_update=protocol.session_update(
                    settings.realtime, tools=tools, extra_instructions=extra
                ),
                idle_timeout_ms=settings.conversation.idle_timeout_s * 1000.0,
                max_duration_ms=settings.conversation.max_duration_s * 1000.0,
                slow_tool_ms=float(settings.tools.slow_filler_ms),
                device_name=settings.device.name,
                site=settings.device.site,
                confirm_tools=frozenset(
                    d["name"] for d in tools if toolbox and toolbox.needs_confirmation(d["name"])
                ),
                transcribes=settings.realtime.transcription.enabled,
            )
        )
        self.summary = RunSummary()
        self.link: Link | None = None
        self.uploading = False
        self.pipeline: CapturePipeline | None = None
        self._out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._input_ended = False
        self._listening = asyncio.Event()
        self._conversations = 0
        self._prompt_n = 0

    # -- time and events ----------------------------------------------------------------

    def now_ms(self) -> float:
        return (self._clock() - self._t0) * 1000.0

    def dispatch(self, event: Event) -> None:
        """Feed one event to the engine and carry out its commands (on the loop thread)."""
        for command in self.engine.handle(event, self.now_ms()):
            self._execute(command)
        if self.pipeline is not None:
            self.pipeline.hold_open = self.engine.caller_turn_open
        if self.engine.state is State.LISTENING:
            self._listening.set()
        else:
            self._listening.clear()
        self._changed.set()

    def health(self, ok: bool, message: str) -> None:
        """For audio adapters: a device went missing or came back."""
        self.dispatch(DeviceHealth(ok, message))

    def request_start(self, source: str) -> None:
        self.dispatch(StartRequested(source))

    def stop(self) -> None:
        self._stop.set()

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one line, and the daemon keeps serving
                log.error("%s failed: %s: %s", name, type(exc).__name__, exc)

        task = asyncio.get_running_loop().create_task(guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _execute(self, command: Command) -> None:
        match command:
            case Send(event=event):
                if self.link is not None:
                    self._out.put_nowait(event)
            case Play(item_id=item_id, pcm=pcm):
                self.speaker.write(item_id, pcm)
                self.summary.reply_audio_ms += pcm_ms(len(pcm), LINK_RATE_HZ)
            case PlayPrompt(name=name):
                prompt = self.prompts.get(name)
                if prompt:
                    self._prompt_n += 1
                    self.speaker.write(f"prompt:{name}:{self._prompt_n}", prompt)
                    ms = pcm_ms(len(prompt), LINK_RATE_HZ)
                    self.summary.prompt_audio_ms += ms
                    self._report(Report("note", {"text": f"playing prompt '{name}' ({ms:.0f} ms)"}))
                else:
                    self._report(Report("note", {"text": f"no prompt '{name}' to play"}))
            case Upload(on=on):
                self.uploading = on
            case Connect():
                self._conversations += 1
                if self.pipeline is not None:
                    self.pipeline.reset()
                if self.toolbox is not None:
                    self.toolbox.start_conversation(self.engine.conversation_id)
                self._spawn(self._open_link(), "realtime link")
            case Disconnect():
                self._close_link()
            case RunTool(call=call, context=context):
                self._spawn(self._run_tool(call, context), f"tool {call.name}")
            case AwaitPlayback():
                self._spawn(self._await_playback(), "playback")
            case SetTimer(name=name, delay_ms=delay_ms):
                self._cancel_timer(name)
                loop = asyncio.get_running_loop()
                self._timers[name] = loop.call_later(delay_ms / 1000.0, self._fire_timer, name)
            case CancelTimer(name=name):
                self._cancel_timer(name)
            case Report():
                self._report(command)

    def _fire_timer(self, name: str) -> None:
        self._timers.pop(name, None)
        self.dispatch(TimerFired(name))

    def _cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _report(self, report: Report) -> None:
        self.summary.add(report)
        if report.kind == "error":
            log.warning("%s: %s", report.data.get("code"), report.data.get("message"))
        elif report.data.get("code") == "audio":  # a device came back
            log.info("audio: %s", report.data.get("message"))
        if self.timeline is not None and self.settings.logging.timeline:
            line = timeline_line(self.now_ms(), report)
            if line:
                print(line, file=self.timeline, flush=True)

    # -- the link -----------------------------------------------------------------------

    async def _open_link(self) -> None:
        try:
            link = await self._connect()
        except Exception as exc:  # LinkError and friends: one line
            self.dispatch(LinkLost(str(exc)))
            return
        if not self.engine.active:  # the conversation ended while connecting
            await link.close()
            return
        self.link = link
        self._spawn(self._read_link(link), "realtime reader")

    async def _read_link(self, link: Link) -> None:
        event: ServerEvent
        async for event in link.events():
            if self.link is not link:
                return
            self.dispatch(event)
        if self.link is link:
            self.link = None
            self.dispatch(LinkLost(f"the server closed the connection (code {link.close_code})"))

    def _close_link(self) -> None:
        link, self.link = self.link, None
        while not self._out.empty():
            self._out.get_nowait()
        if link is not None:
            self._spawn(link.close(), "closing the link")

    async def _send_loop(self) -> None:
        while True:
            event = await self._out.get()
            link = self.link
            if link is None:
                continue
            try:
                await link.send(event)
            except Exception as exc:  # the reader reports the lost link
                log.debug("send failed: %s", exc)

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
                    frame.rate_hz, frame.channels, channel, audio.gate, audio.upload_chunk_ms
                )
            chunks = self.pipeline.process(frame)
            if self.uploading and self.link is not None:
                for chunk in chunks:
                    self._out.put_nowait(protocol.input_audio_append(chunk))
        self._input_ended = True
        self._changed.set()

    async def _await_playback(self) -> None:
        await self.speaker.wait_idle()
        self.dispatch(PlaybackIdle())

    async def _run_tool(self, call: ToolCall, context: ToolContext) -> None:
        start = self._clock()
        if self.toolbox is None:
            result = ToolResult("No tools are configured on this device.", False, 0.0)
        else:
            try:
                result = await self.toolbox.run(call, context)
            except Exception as exc:  # a tool box must not raise; if it does, say so
                ms = (self._clock() - start) * 1000.0
                log.error("tool %s raised %s: %s", call.name, type(exc).__name__, exc)
                result = ToolResult(
                    f"The tool {call.name} failed on the device.", False, ms, ToolAction.CONTINUE
                )
        self.dispatch(ToolFinished(call.call_id, result))

    # -- running ------------------------------------------------------------------------

    def _quiet(self) -> bool:
        return not self.engine.busy and self.speaker.queued_ms() == 0

    async def _until_done(self) -> None:
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            while not stop.done():
                if self.options.exit_when_input_ends and (
                    self._input_ended or (self._conversations and not self.engine.active)
                ):
                    break
                self._changed.clear()
                changed = asyncio.ensure_future(self._changed.wait())
                await asyncio.wait({stop, changed}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
            if not stop.done():  # input ended: let the replies finish
                deadline = self._clock() + self.options.drain_timeout_s
                while not self._quiet() and not stop.done():
                    left = deadline - self._clock()
                    if left <= 0:
                        self._report(
                            Report(
                                "error",
                                {
                                    "code": "timeout",
                                    "message": "gave up waiting for"
                                    " the reply after the input ended",
                                },
                            )
                        )
                        break
                    self._changed.clear()
                    changed = asyncio.ensure_future(self._changed.wait())
                    await asyncio.wait({stop, changed}, timeout=min(left, 0.5))
                    changed.cancel()
        finally:
            stop.cancel()

    async def run(self) -> RunSummary:
        """Serve until stopped (SIGTERM/SIGINT, ``stop()``, or the end of a file input)."""
        loop = asyncio.get_running_loop()
        self._t0 = self._clock()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
            loop.add_signal_handler(signal.SIGUSR1, lambda: self.request_start("button (SIGUSR1)"))
        workers = [
            loop.create_task(self._send_loop(), name="sender"),
            loop.create_task(self._mic_loop(), name="microphone"),
        ]
        try:
            if self.settings.conversation.start == "at_startup":
                self.request_start("start-up")
            await self._until_done()
        finally:
            if self.engine.active:
                self.dispatch(StopRequested("shutting down"))
            for handle in self._timers.values():
                handle.cancel()
            self._timers.clear()
            await self.mic.close()  # its frames() ends by itself, even if a cancel is lost
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            link, self.link = self.link, None
            if link is not None:
                await link.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.speaker.wait_idle(), timeout=5.0)
            await self.mic.close()
            await self.speaker.close()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
        return self.summary
