"""The daemon's audio wiring: microphone to lanes, the 16 kHz listeners, speaker commands.

A mixin of `Daemon` (device/daemon/daemon.py), split out by job.

- The microphone loop runs frames through the capture pipeline; gated chunks go to the
  audio lane while the engine uploads. Chunks made while not uploading are kept for
  ``WAKE_KEEP_MS``: after a wake word, those after the phrase are sent first, so "hey
  jarvis what are your hours" in one breath reaches the server whole.
- Listeners on the 16 kHz fan-out (the wake word, the local speech detector) run in their
  own threads and reach the loop through `Daemon.trigger` (``call_soon_threadsafe``). With
  ``audio.echo.raw_input`` the local speech detector is fed from a second microphone, the
  raw mic under the sound server's echo canceller, instead.
- A push-to-talk button's events (gpiozero's thread) go through the pure push-to-talk
  state machine on the loop, whose actions become engine events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from device.audio.frames import SPEECH_RATE_HZ, pcm_ms
from device.audio.pipeline import WAKE_RATE_HZ, CapturePipeline
from device.audio.resample import StreamResampler, pick_channel
from device.audio.seam import AudioInput, AudioOutput
from device.buttons.ptt import (
    ButtonEvent,
    EndConversation,
    Interrupt,
    PushToTalk,
    Start,
    TalkBegin,
    TalkEnd,
)
from device.common.text import one_line
from device.config.settings import Settings
from device.conversation import (
    Conversation,
    Event,
    InterruptRequested,
    PlaybackIdle,
    PlaybackStopped,
    StartRequested,
    State,
    StopRequested,
    TalkEnded,
    TalkStarted,
)
from device.conversation.reports import ErrorReported, Note, PromptPlayed, ReplyPaused, Report
from device.daemon.lanes import Lanes
from device.prompts.library import PromptLibrary
from device.realtime.commands import AppendAudio
from device.services.summary import RunSummary
from device.services.triggers import Trigger, TriggerAction

log = logging.getLogger("device.daemon.daemon")

PLAYBACK_GRACE_S = 5.0  # on top of what is queued, before a stuck speaker is given up
WAKE_KEEP_MS = 3000  # audio kept while not uploading, for the words right after a wake
HELD_LEAD_MS = 150  # a barge-in during an echo hold sends from this long before the speech


def holds_echo(settings: Settings, local_vad: Any) -> bool:
    """Whether the mic carries the device's own voice to the server while it speaks:
    ``echo.judged_mode`` reference with a local detector (it weighs the mic against the
    reply, so the upload is not cancelled), or ``half_duplex``."""
    echo = settings.audio.echo
    return echo.mode == "half_duplex" or (local_vad is not None and echo.judged_mode == "reference")


class AudioWiring:
    """Mixed into `Daemon`; what it uses of the daemon is declared here for mypy."""

    settings: Settings
    engine: Conversation
    mic: AudioInput
    vad_mic: AudioInput | None
    speaker: AudioOutput
    prompts: PromptLibrary
    summary: RunSummary
    lanes: Lanes
    link: Any
    uploading: bool
    pipeline: CapturePipeline | None
    wake: Any  # a device.wake.listener.WakeListener, or None
    local_vad: Any  # a device.vad.listener.VadListener, or None
    ptt: PushToTalk | None
    _hold_open: bool
    _prompt_n: int
    _audio_ids: int
    _listening: asyncio.Event
    _changed: asyncio.Event
    _input_ended: bool
    _kept: deque[tuple[float, bytes]]
    _wake_end_ms: float | None
    _first_frame_ms: float | None
    _vad_first_frame_ms: float | None
    _holds_echo: bool
    _ptt_timer: asyncio.TimerHandle | None

    if TYPE_CHECKING:

        @property
        def loop(self) -> asyncio.AbstractEventLoop: ...

        def dispatch(self, event: Event) -> None: ...

        def emit(self, report: Report) -> None: ...

        def trigger(self, trigger: Trigger) -> None: ...

        def _on_trigger(self, trigger: Trigger) -> None: ...

        def _spawn(
            self, name: str, factory: Callable[[], Any], *, restart: bool = False
        ) -> None: ...

    # -- the speaker ---------------------------------------------------------------------

    def _stop_playback(self, source: str, items: tuple[str, ...], device: bool) -> None:
        """Silence the speaker first, then read the playback clock for the truncation."""
        self.speaker.flush()
        heard_of = getattr(self.speaker, "heard_ms", self.speaker.played_ms)
        heard = tuple((item, float(heard_of(item))) for item in items)
        self.loop.call_soon(self.dispatch, PlaybackStopped(source, heard, device))

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

    async def _await_playback(self) -> None:
        timeout_s = self.speaker.queued_ms() / 1000.0 * 2 + PLAYBACK_GRACE_S
        try:
            async with asyncio.timeout(timeout_s):
                await self.speaker.wait_idle()
        except TimeoutError:
            self.emit(ErrorReported("speaker", f"playback did not finish within {timeout_s:.0f} s"))
        self.dispatch(PlaybackIdle())

    def _speaking_changed(self) -> None:
        """The local speech detector listens only while the device speaks."""
        if self.local_vad is None:
            return
        speaking = self.engine.state is State.SPEAKING
        if speaking and not self.local_vad.active:
            # a suspected barge-in pauses the speaker from the detector's thread at once
            # (speakers with hold()/resume(): both thread-safe); the confirmation comes
            # through on_local_speech as before and its flush ends the pause
            pausable = hasattr(self.speaker, "hold") and hasattr(self.speaker, "resume")
            self.local_vad.start(playback=self.speaker if pausable else None)
        elif not speaking and self.local_vad.active:
            self.local_vad.stop()

    # -- the microphone ------------------------------------------------------------------

    def _set_hold(self, on: bool) -> None:
        self._hold_open = on
        if self.pipeline is not None:
            self.pipeline.set_hold_open(on)

    def _set_uploading(self, on: bool) -> None:
        self.uploading = on
        if not on:
            self._set_hold(False)
            return
        if self._wake_end_ms is not None and self.link is not None:
            wake_end_ms, self._wake_end_ms = self._wake_end_ms, None
            kept = [chunk for end_ms, chunk in self._kept if end_ms > wake_end_ms]
            for chunk in kept:  # the words said right after the wake phrase
                self._put_chunk(chunk)
        self._kept.clear()

    def _put_chunk(self, chunk: bytes) -> None:
        self._audio_ids += 1
        self.lanes.put_audio(AppendAudio(chunk, event_id=f"aud_{self._audio_ids}"))

    def _make_pipeline(self, rate_hz: int, channels: int) -> CapturePipeline:
        audio = self.settings.audio
        pipeline = CapturePipeline(
            rate_hz,
            channels,
            getattr(audio.input, "channel", 0),
            audio.gate,
            audio.upload_chunk_ms,
            upload_rate_hz=SPEECH_RATE_HZ,
        )
        pipeline.set_hold_open(self._hold_open)
        if self.wake is not None:
            pipeline.set_batch_veto(self.wake.wants_early_look)
            pipeline.set_batch_stretch(self.wake.models_idle)
        for listener in (self.wake, None if self.vad_mic else self.local_vad):
            if listener is not None:
                pipeline.subscribe_16k(listener.consumer)
        return pipeline

    def _start_microphones(self) -> None:
        self._spawn("microphone", self._mic_loop, restart=True)
        if self.vad_mic is not None:
            self._spawn("barge-in microphone", self._vad_mic_loop, restart=True)

    async def _close_microphones(self) -> None:
        """Their ``frames()`` end by themselves, even if a cancel is lost."""
        await self.mic.close()
        if self.vad_mic is not None:
            await self.vad_mic.close()

    async def _vad_mic_loop(self) -> None:
        """The raw mic (``audio.echo.raw_input``), at 16 kHz mono, into the local speech
        detector: it judges a caller there against the reply (as in reference mode), before
        the sound server's canceller would let them through."""
        assert self.vad_mic is not None
        to_16k: StreamResampler | None = None
        async for frame in self.vad_mic.frames():
            if self._vad_first_frame_ms is None:
                self._vad_first_frame_ms = frame.t_ms
            if to_16k is None:
                to_16k = StreamResampler(frame.rate_hz, WAKE_RATE_HZ)
            samples = to_16k.process(pick_channel(frame.pcm, frame.channels, 0))
            if self.local_vad is not None and len(samples):
                self.local_vad.consumer(samples)

    async def _mic_loop(self) -> None:
        """Microphone frames through the capture pipeline; gated chunks go up while listening.

        A file input with ``caller: turns`` stands for a caller who speaks only while the
        device listens: it is read while the conversation is LISTENING and held while the
        device thinks, speaks or runs a tool (a file holding several questions plays them
        turn by turn). ``caller: timeline`` plays on the wall clock whatever happens.
        """
        audio = self.settings.audio
        turn_taking = audio.input.type == "file" and getattr(audio.input, "caller", "turns") == (
            "turns"
        )
        if turn_taking:
            await self._listening.wait()
        keep = max(1, WAKE_KEEP_MS // max(1, audio.upload_chunk_ms))
        self._kept = deque(maxlen=keep)
        async for frame in self.mic.frames():
            if turn_taking and not self._listening.is_set():
                await self._listening.wait()
            if self.pipeline is None:
                self.pipeline = self._make_pipeline(frame.rate_hz, frame.channels)
            if self._first_frame_ms is None:
                self._first_frame_ms = frame.t_ms
            chunks = self.pipeline.process(frame)
            if self.uploading and self.link is not None and not self._echo_held():
                if self._kept:
                    self._kept.clear()  # a reply's echo, held back while nobody cut in
                for chunk in chunks:
                    self._put_chunk(chunk)
            elif chunks:  # kept (the words after a wake phrase, a barge-in), with end times
                end_ms = frame.t_ms + pcm_ms(len(frame.pcm), frame.rate_hz, frame.channels)
                end_ms -= self.pipeline.pending_ms  # the last chunk's end (batches: 80 ms)
                chunk_ms = audio.upload_chunk_ms
                for i, chunk in enumerate(chunks):
                    self._kept.append((end_ms - (len(chunks) - 1 - i) * chunk_ms, chunk))
        self._input_ended = True
        self._changed.set()

    # -- wake word, local speech, button (their threads -> the loop) ----------------------

    def on_wake(self, model: str, score: float, end_sample: int) -> None:
        """From the wake worker thread: the phrase ended at ``end_sample`` (16 kHz)."""
        self.loop.call_soon_threadsafe(self._woken, model, score, end_sample)

    def _woken(self, model: str, score: float, end_sample: int) -> None:
        source = f"wake word {one_line(model, 40)} ({score:.2f})"
        if not self.engine.active:
            if self._first_frame_ms is not None:
                self._wake_end_ms = self._first_frame_ms + end_sample / 16.0
            self._play_chime()
            self.dispatch(StartRequested(source))
        else:  # during a conversation the phrase does not restart it; speaking: interrupt
            self.dispatch(InterruptRequested(source))

    def _play_chime(self) -> None:
        chime = getattr(self.settings.wake, "chime", None)
        if chime:
            self._play_prompt(chime)

    def on_local_speech(self, start_sample: int) -> None:
        """From the local speech detector's thread: the caller spoke over the reply."""
        self.loop.call_soon_threadsafe(self._local_speech, start_sample)

    def on_local_pause(self, pause_ms: float, expired: bool) -> None:
        """From the local speech detector's thread: a suspected caller paused the reply
        and it went on (the timeline and the run summary show it)."""
        with contextlib.suppress(RuntimeError):  # the loop is gone: the daemon stopped
            self.loop.call_soon_threadsafe(self.emit, ReplyPaused(pause_ms, expired))

    def _local_speech(self, start_sample: int) -> None:
        self._send_held_speech(start_sample)
        self._on_trigger(Trigger(TriggerAction.INTERRUPT, "local speech detection"))

    def _echo_held(self) -> bool:
        """While the device speaks and its mic carries its own voice (``holds_echo``), the
        mic is kept, not uploaded: the server's VAD would take the echo for a caller (and
        answer it). The local detector interrupts instead and sends the caller's words from
        their start (``_send_held_speech``); what nobody claimed is dropped when the reply
        ends. Per mic frame: one flag and one state test."""
        return self._holds_echo and self.engine.state is State.SPEAKING

    def _send_held_speech(self, start_sample: int) -> None:
        """A local barge-in during an echo hold: upload the kept audio from a little before
        the caller's first speech window (``start_sample`` of the detector's stream)."""
        base = self._vad_first_frame_ms if self.vad_mic is not None else self._first_frame_ms
        if not self._echo_held() or base is None or not self.uploading or self.link is None:
            return
        from_ms = base + start_sample / 16.0 - HELD_LEAD_MS
        for end_ms, chunk in self._kept:
            if end_ms > from_ms:
                self._put_chunk(chunk)
        self._kept.clear()

    def on_button(self, event: ButtonEvent, now_ms: float) -> None:
        """From gpiozero's thread: a press, hold or release."""
        self.loop.call_soon_threadsafe(self._button_event, event)

    def _button_event(self, event: ButtonEvent | None) -> None:
        ptt = self.ptt
        if ptt is None:
            return
        now_ms = self.loop.time() * 1000.0
        ptt.set_conversation(self.engine.active, self.engine.state is State.SPEAKING)
        actions = ptt.tick(now_ms) if event is None else ptt.handle(event, now_ms)
        talk = any(isinstance(a, TalkBegin) for a in actions)
        for action in actions:
            match action:
                case Start() if not talk:
                    self.dispatch(StartRequested("button"))
                case Interrupt():
                    self.dispatch(InterruptRequested("button"))
                case TalkBegin():
                    self.dispatch(TalkStarted("button"))
                case TalkEnd(commit=commit):
                    self.dispatch(TalkEnded(commit, "button"))
                case EndConversation():
                    self.dispatch(StopRequested("ended with a long press"))
                case _:
                    pass
        self._schedule_ptt_tick(ptt.deadline_ms, now_ms)

    def _schedule_ptt_tick(self, deadline_ms: float | None, now_ms: float) -> None:
        if self._ptt_timer is not None:
            self._ptt_timer.cancel()
            self._ptt_timer = None
        if deadline_ms is not None:
            delay_s = max(0.0, (deadline_ms - now_ms) / 1000.0)
            self._ptt_timer = self.loop.call_later(delay_s, self._button_event, None)

    def _close_listeners(self, close_button: Callable[[], None] | None) -> None:
        for listener in (self.wake, self.local_vad):
            if listener is not None:
                try:
                    listener.close()
                except Exception as exc:  # a listener's own trouble must not stop the exit
                    log.warning("closing %s: %s", type(listener).__name__, one_line(exc))
        if close_button is not None:
            close_button()
