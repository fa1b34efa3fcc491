"""The audio path: microphone to the audio lane, the 16 kHz listeners, speaker commands.

A part of the daemon (device/daemon/daemon.py) that owns every field it uses.

- The microphone loop runs frames through the capture pipeline; gated chunks go to the
  audio lane while the engine uploads. Chunks made while not uploading are kept for
  ``WAKE_KEEP_MS``: after a wake word, those after the phrase are sent first, so "hey
  jarvis what are your hours" in one breath reaches the server whole.
- Listeners on the 16 kHz fan-out (the wake word, the local speech detector) run in their
  own threads and reach the loop through the daemon's `Inbox`. With
  ``audio.echo.raw_input`` the local speech detector is fed from a second microphone, the
  raw mic under the sound server's echo canceller, instead.
- It learns the conversation's state from `state_changed` (the daemon calls it on every
  ``StateChanged`` report), never by reading the engine: the local detector listens only
  while the device speaks, capture batches while nobody is here, a file caller speaks
  while the device listens.
- A prompt played while listening (the AI disclosure) is held back like a reply's echo;
  the local detector says if the caller talked through it (device/daemon/prompt_hold.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Sequence

from device.audio.frames import SPEECH_RATE_HZ, pcm_ms
from device.audio.pipeline import WAKE_RATE_HZ, CapturePipeline
from device.audio.resample import StreamResampler, pick_channel
from device.audio.seam import AudioInput, AudioOutput
from device.audio.settings import FileInput, PyAudioInput
from device.common.text import one_line
from device.config.settings import Settings
from device.conversation import (
    Event,
    InterruptRequested,
    PlaybackIdle,
    PlaybackStopped,
    StartRequested,
    State,
)
from device.conversation.reports import ErrorReported, Note, PromptPlayed, Report
from device.conversation.state import ENDED
from device.daemon.heartbeat import Heartbeat
from device.daemon.lanes import Lanes
from device.daemon.listeners import LocalVad, WakeWord
from device.daemon.prompt_hold import PromptHold, holds_echo
from device.daemon.supervisor import Spawn
from device.prompts.library import PromptLibrary
from device.realtime.commands import AppendAudio
from device.services.ports import AudioTap

log = logging.getLogger(__name__)

PLAYBACK_GRACE_S = 5.0  # on top of what is queued, before a stuck speaker is given up
WAKE_KEEP_MS = 3000  # audio kept while not uploading, for the words right after a wake
HELD_LEAD_MS = 150  # a barge-in during an echo hold sends from this long before the speech
PROMPT_END_KEEP_MS = 150  # a prompt hold lapsed: the last ms kept (after its echo) go up


class AudioPath:
    def __init__(
        self,
        settings: Settings,
        *,
        mic: AudioInput,
        speaker: AudioOutput,
        prompts: PromptLibrary,
        lanes: Lanes,
        heartbeat: Heartbeat,
        dispatch: Callable[[Event], None],
        emit: Callable[[Report], None],
        spawn: Spawn,
        link_up: Callable[[], bool],
        wake: WakeWord | None = None,
        local_vad: LocalVad | None = None,
        vad_mic: AudioInput | None = None,
        taps: Sequence[AudioTap] = (),
        now_ms: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._settings = settings
        self._taps = tuple(taps)  # a recorder's ears: the audio uploaded and played
        self._now_ms = now_ms
        self.mic = mic
        self.speaker = speaker
        self.prompts = prompts
        self._lanes = lanes
        self._heartbeat = heartbeat
        self._dispatch = dispatch
        self._emit = emit
        self._spawn = spawn
        self._link_up = link_up
        self.wake = wake
        self.local_vad = local_vad
        self.vad_mic = vad_mic
        self.pipeline: CapturePipeline | None = None
        self.uploading = False
        self.muted = False  # the mute switch: frames are read and dropped
        self._hold_open = False
        self._state = State.IDLE
        self._holds_echo = holds_echo(settings.audio.echo, local_vad is not None)
        self.prompt_hold = PromptHold(speaker, local_vad)
        self._kept: deque[tuple[float, bytes]] = deque()
        self._wake_end_ms: float | None = None
        self._first_frame_ms: float | None = None
        self._vad_first_frame_ms: float | None = None  # the raw mic's (audio.echo.raw_input)
        self.listening = asyncio.Event()  # a file caller speaks (see `_mic_loop`)
        if wake is not None:
            self.listening.set()  # idle with a wake word: a file caller may say the phrase
        self.input_ended = False
        self.on_input_ended: Callable[[], None] = lambda: None
        self.opened = asyncio.Event()  # the microphone delivers (or a file caller waits)
        self._prompt_n = 0
        self._audio_ids = 0
        self.reply_audio_ms = 0.0

    # -- the conversation's state ----------------------------------------------------------

    def state_changed(self, new: State) -> None:
        self._state = new
        if new is State.LISTENING or (new is State.IDLE and self.wake is not None):
            self.listening.set()
        else:
            self.listening.clear()
        if self.pipeline is not None:  # nobody here: capture in 80 ms batches (cheaper)
            self.pipeline.set_batching(new in ENDED)
        self._speaking_changed(new is State.SPEAKING)

    def visitor_left(self) -> None:
        """A conversation ended: forget its audio. The capture pipeline is reset now, not
        when the next visitor starts (the gate and the resampler are warm when they do)."""
        self.prompt_hold.end()
        if self.pipeline is not None:
            self.pipeline.reset(keep_gate=True)
        self._kept.clear()
        self.speaker.forget(None)  # the playback clock's per-item counts of that visitor

    def _speaking_changed(self, speaking: bool) -> None:
        """The local speech detector listens only while the device speaks; a suspected
        barge-in pauses the speaker from the detector's thread (``hold``/``resume`` are
        thread-safe); the confirmation comes through the inbox and its flush ends it."""
        vad = self.local_vad
        if vad is None:
            return
        if speaking:
            self.prompt_hold.end()  # the reply's own hold takes over (and its detector)
        if speaking and not vad.active:
            vad.start(playback=self.speaker)
        elif not speaking and vad.active and not self.prompt_hold.detecting:
            vad.stop()

    def set_muted(self, muted: bool) -> None:
        """Muted: microphone frames are read (the heartbeat goes on) and dropped before
        the pipeline, so nothing is uploaded and the wake word and the local detector hear
        nothing; what the pipeline held from before is forgotten."""
        self.muted = muted
        if muted:
            self.prompt_hold.end()
            self._kept.clear()
            if self.pipeline is not None:
                self.pipeline.reset(keep_gate=True)

    # -- the speaker -----------------------------------------------------------------------

    def play(self, item_id: str, pcm: bytes) -> None:
        self.speaker.write(item_id, pcm)
        self.reply_audio_ms += pcm_ms(len(pcm), SPEECH_RATE_HZ)
        for tap in self._taps:
            tap.reply_audio(self._now_ms(), item_id, pcm)

    def stop_playback(self, source: str, items: tuple[str, ...], device: bool) -> None:
        """Silence the speaker first, then read the playback clock for the truncation."""
        self.speaker.flush()
        heard = tuple((item, float(self.speaker.heard_ms(item))) for item in items)
        asyncio.get_running_loop().call_soon(self._dispatch, PlaybackStopped(source, heard, device))

    def play_prompt(self, name: str) -> None:
        prompt = self.prompts.get(name)
        if not prompt:
            self._emit(Note(f"no prompt '{name}' to play"))
            return
        self._prompt_n += 1
        self.speaker.write(f"prompt:{name}:{self._prompt_n}", prompt)
        self._emit(PromptPlayed(name, pcm_ms(len(prompt), SPEECH_RATE_HZ)))
        if self._holds_echo and self._state is not State.SPEAKING and not self.muted:
            since_ms = self._kept[-1][0] if self._kept else -math.inf  # (before: not theirs)
            since_ms = since_ms if self._wake_end_ms is None else self._wake_end_ms
            self.prompt_hold.begin(self._wake_end_sample(), since_ms)

    def _wake_end_sample(self) -> int | None:
        """The end of the wake phrase in the local detector's samples (None: not woken)."""
        base = self._vad_first_frame_ms if self.vad_mic is not None else self._first_frame_ms
        if self._wake_end_ms is None or base is None:
            return None
        return max(0, round((self._wake_end_ms - base) * 16))

    def await_playback(self) -> None:
        self._spawn(
            "playback", self._await_playback, on_error=lambda _: self._dispatch(PlaybackIdle())
        )

    async def _await_playback(self) -> None:
        timeout_s = self.speaker.queued_ms() / 1000.0 * 2 + PLAYBACK_GRACE_S
        try:
            async with asyncio.timeout(timeout_s):
                await self.speaker.wait_idle()
        except TimeoutError:
            self._emit(
                ErrorReported("speaker", f"playback did not finish within {timeout_s:.0f} s")
            )
        self._dispatch(PlaybackIdle())

    # -- the upload ------------------------------------------------------------------------

    def set_hold(self, on: bool) -> None:
        self._hold_open = on
        if self.pipeline is not None:
            self.pipeline.set_hold_open(on)

    def set_uploading(self, on: bool) -> None:
        self.uploading = on
        if not on:
            self.set_hold(False)
            return
        if self.prompt_hold.held:
            return  # kept: the local detector decides what of it is the caller's
        if self._wake_end_ms is not None:
            self._send_kept(self._wake_end_ms)  # the words said right after the wake phrase
        self._kept.clear()

    def _send_kept(self, from_ms: float) -> None:
        """Upload what was kept from ``from_ms`` (mic clock) on; not uploading yet: later."""
        if not self.uploading:
            self._wake_end_ms = from_ms
            return
        self._wake_end_ms = None
        if self._link_up():
            for end_ms, chunk in self._kept:
                if end_ms > from_ms:
                    self._put_chunk(chunk)
        self._kept.clear()

    def _put_chunk(self, chunk: bytes) -> None:
        self._audio_ids += 1
        self._lanes.put_audio(AppendAudio(chunk, event_id=f"aud_{self._audio_ids}"))
        for tap in self._taps:
            tap.caller_audio(self._now_ms(), chunk)

    @property
    def chunks_sent(self) -> int:
        return self._audio_ids

    def _echo_held(self) -> bool:
        """While the device speaks (or plays a prompt: `PromptHold`) and its mic carries
        its own voice (``holds_echo``), the mic is kept, not uploaded: the server's VAD
        would take the echo for a caller (and answer it). The local detector interrupts
        instead and sends the caller's words from their start (`send_held_speech`); what
        nobody claimed is dropped when the reply ends. Per mic frame: a few attributes."""
        return self._holds_echo and (self._state is State.SPEAKING or self.prompt_hold.held)

    def send_held_speech(self, start_sample: int) -> None:
        """The local detector heard the caller during an echo hold: upload the kept audio
        from a little before their first speech window (``start_sample`` of its stream);
        over a prompt, the upload goes live from there (the prompt plays on)."""
        base = self._vad_first_frame_ms if self.vad_mic is not None else self._first_frame_ms
        if not self._echo_held() or base is None:
            return
        from_ms = base + start_sample / 16.0 - HELD_LEAD_MS
        if self.prompt_hold.held and self._state is not State.SPEAKING:
            self.prompt_hold.claim()  # all since the hold began: see PromptHold
            self._emit(Note("the caller talked over the prompt: their words go up"))
            from_ms = self.prompt_hold.from_ms
        self._send_kept(from_ms)

    # -- the wake word ---------------------------------------------------------------------

    def woken(self, model: str, score: float, end_sample: int) -> None:
        source = f"wake word {one_line(model, 40)} ({score:.2f})"
        if self._state in ENDED:
            if self._first_frame_ms is not None:
                self._wake_end_ms = self._first_frame_ms + end_sample / 16.0
            chime = self._settings.wake.chime
            if chime:
                self.play_prompt(chime)
            self._dispatch(StartRequested(source))
        else:  # during a conversation the phrase does not restart it; speaking: interrupt
            self._dispatch(InterruptRequested(source))

    # -- the microphones -------------------------------------------------------------------

    def start(self) -> None:
        if self.wake is not None:
            self.wake.start()
        self._spawn("microphone", self._mic_loop, restart=True)
        if self.vad_mic is not None:
            self._spawn("barge-in microphone", self._vad_mic_loop, restart=True)

    async def close_microphones(self) -> None:
        """Their ``frames()`` end by themselves, even if a cancel is lost."""
        await self.mic.close()
        if self.vad_mic is not None:
            await self.vad_mic.close()

    def close_listeners(self) -> None:
        for name, close in (
            ("the wake word", self.wake.close if self.wake else None),
            ("the local speech detector", self.local_vad.close if self.local_vad else None),
        ):
            if close is None:
                continue
            try:
                close()
            except Exception as exc:  # a listener's own trouble must not stop the exit
                log.warning("closing %s: %s", name, one_line(exc))

    def _make_pipeline(self, rate_hz: int, channels: int) -> CapturePipeline:
        audio = self._settings.audio
        pipeline = CapturePipeline(
            rate_hz,
            channels,
            audio.input.channel if isinstance(audio.input, PyAudioInput) else 0,
            audio.gate,
            audio.upload_chunk_ms,
            upload_rate_hz=SPEECH_RATE_HZ,
        )
        pipeline.set_hold_open(self._hold_open)
        pipeline.set_batching(self._state in ENDED)
        if self.wake is not None:
            pipeline.set_batch_veto(self.wake.wants_early_look)
            pipeline.set_batch_stretch(self.wake.models_idle)
        for listener in (self.wake, None if self.vad_mic else self.local_vad):
            if listener is not None:
                pipeline.subscribe_16k(listener.consumer)
        return pipeline

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
        audio = self._settings.audio
        turn_taking = isinstance(audio.input, FileInput) and audio.input.caller == "turns"
        if turn_taking:
            self.opened.set()
            await self.listening.wait()
        keep = max(1, WAKE_KEEP_MS // max(1, audio.upload_chunk_ms))
        self._kept = deque(maxlen=keep)
        async for frame in self.mic.frames():
            self._heartbeat.mic_frame()
            self.opened.set()
            if self.muted:
                continue
            if turn_taking and not self.listening.is_set():
                await self.listening.wait()
            if self.pipeline is None:
                self.pipeline = self._make_pipeline(frame.rate_hz, frame.channels)
            if self._first_frame_ms is None:
                self._first_frame_ms = frame.t_ms
            chunks = self.pipeline.process(frame)
            if self.prompt_hold.held and self.prompt_hold.lapsed(frame.t_ms):
                # nobody heard over it: the kept audio was its echo, but for its last ms
                self._send_kept(frame.t_ms - PROMPT_END_KEEP_MS)
            if self.uploading and self._link_up() and not self._echo_held():
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
        self.input_ended = True
        self.on_input_ended()

    # -- counters ---------------------------------------------------------------------------

    def capture_consumer_errors(self) -> int:
        return sum(self.pipeline.consumer_errors.values()) if self.pipeline else 0
