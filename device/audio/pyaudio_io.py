"""Sound cards through PyAudio / PortAudio: the microphone and speaker adapters.

``PyAudioMic`` (AudioInput): PortAudio's callback thread hands each frame to the event loop
with ``loop.call_soon_threadsafe`` into a bounded queue; when the queue is full the oldest
frame is dropped and ``overflows`` counted: the callback never blocks. A device that is
missing, or stops delivering audio (unplugged: stream error or no callback for
``stall_s``), is reported once through ``on_health(False, message)`` and retried every
``retry_s`` until it is back (``on_health(True, message)``); no restart needed.

``PyAudioSpeaker`` (AudioOutput): replies (24 kHz mono PCM16) are resampled to the device
rate with soxr and queued in a ``PlaybackBuffer``; the device's callback pulls exactly one
period at a time, so the playback clock counts what was really handed to the device and
``flush()`` silences it from the next period on, without blocking.

Example::

    mic = PyAudioMic(PyAudioInput(device="ReSpeaker", channels=6), on_health=print)
    async for frame in mic.frames(): ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import numpy as np
import pyaudio

from device.audio.devices import DeviceNotFound, close_stream, open_stream
from device.audio.frames import LINK_RATE_HZ, SAMPLE_BYTES, AudioFrame
from device.audio.playback import PlaybackBuffer
from device.audio.resample import StreamResampler
from device.audio.settings import PyAudioInput, PyAudioOutput
from device.retry import Classified, Failure, RetryGaveUp, RetryPolicy, retry

log = logging.getLogger(__name__)

HealthCallback = Callable[[bool, str], None]
_READY_CALLBACKS = 8  # past PortAudio's priming: the device consumes audio on its clock


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, DeviceNotFound):
        return str(exc)
    if isinstance(exc, OSError) and exc.args:
        return f"cannot open it ({exc.args[-1]})"
    return f"cannot open it ({type(exc).__name__}: {exc})"


class _Closed(Exception):
    """The microphone was closed while it waited to open again."""


class PyAudioMic:
    """An AudioInput on a sound card (see the module docstring)."""

    def __init__(
        self,
        settings: PyAudioInput,
        *,
        on_health: HealthCallback | None = None,
        stall_s: float = 1.0,
        start_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.on_health = on_health
        self.stall_s = max(stall_s, 5 * settings.frame_ms / 1000.0)
        self.start_s = max(start_s, self.stall_s)  # PortAudio may take a while to start
        self.label = settings.device or "default"
        self.overflows = 0
        self.frames_delivered = 0
        self.outages = 0
        self.device_name: str | None = None
        self._closed = asyncio.Event()
        self._queue: asyncio.Queue[AudioFrame | None] = asyncio.Queue(settings.queue_frames)
        self._pa: pyaudio.PyAudio | None = None
        self._stream: Any = None
        self._failed = False  # set by the callback on a stream error
        self._outage_reported = False
        self._wakeup = asyncio.Event()  # cuts a retry wait short (close)

    # -- the PortAudio thread -------------------------------------------------------------

    def _make_callback(self, loop: asyncio.AbstractEventLoop, generation: int) -> Any:
        s = self.settings
        frame_bytes = s.channels * SAMPLE_BYTES
        counter = {"samples": 0}
        t0_ms = time.monotonic() * 1000.0

        def callback(data: bytes | None, n: int, _info: Any, status: int) -> tuple[None, int]:
            if status & pyaudio.paInputOverflow:
                self.overflows += 1
            if data is None or len(data) < n * frame_bytes:
                self._failed = True
                return None, pyaudio.paComplete
            t_ms = t0_ms + counter["samples"] * 1000.0 / s.rate_hz
            counter["samples"] += n
            frame = AudioFrame(bytes(data), s.rate_hz, s.channels, t_ms)
            try:
                loop.call_soon_threadsafe(self._deliver, frame, generation)
            except RuntimeError:  # the loop is closed: we are shutting down
                return None, pyaudio.paComplete
            return None, pyaudio.paContinue

        return callback

    # -- the event loop -------------------------------------------------------------------

    _generation = 0

    def _deliver(self, frame: AudioFrame, generation: int) -> None:
        if generation != self._generation or self._closed.is_set():
            return
        if self._queue.full():
            self.overflows += 1
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    def _open(self, loop: asyncio.AbstractEventLoop, generation: int) -> None:
        """Open the device (in a worker thread: PortAudio start-up can take a while)."""
        s = self.settings
        pa, stream, name = open_stream(
            s.device,
            output=False,
            channels=s.channels,
            rate_hz=s.rate_hz,
            frames_per_buffer=s.rate_hz * s.frame_ms // 1000,
            callback=self._make_callback(loop, generation),
        )
        self._pa, self._stream, self.device_name = pa, stream, name

    def _shut(self) -> None:
        stream, pa = self._stream, self._pa
        self._stream = self._pa = None
        close_stream(pa, stream, "microphone")

    def _report(self, ok: bool, message: str) -> None:
        """To ``on_health`` (the daemon logs it with the rest), or to the log if none."""
        if self.on_health is not None:
            self.on_health(ok, message)
        else:
            (log.info if ok else log.error)(message)

    def _outage(self, why: str) -> None:
        if not self._outage_reported:
            self._outage_reported = True
            self.outages += 1
            self._report(
                False,
                f"microphone '{self.label}' {why}: retrying every {self.settings.retry_s:g} s",
            )

    async def _wait_retry(self) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # lands in the same loop step as the result (CPython gh-86296), and the task lives on
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.retry_s):
                await self._closed.wait()

    async def _open_with_retry(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Open the device, every ``retry_s`` until it works (the one retry helper);
        False once the microphone is closed."""
        retry_s = self.settings.retry_s

        def classify(exc: BaseException) -> Classified:
            return Classified(Failure.FATAL if isinstance(exc, _Closed) else Failure.NETWORK)

        policy = RetryPolicy(
            base_s=retry_s, cap_s=retry_s, network_cap_s=retry_s, jitter=False, classify=classify
        )

        async def attempt() -> None:
            if self._closed.is_set():
                raise _Closed
            self._generation += 1
            self._failed = False
            await asyncio.to_thread(self._open, loop, self._generation)

        def failed(_n: int, exc: BaseException, _c: Classified, _delay: float | None) -> None:
            if isinstance(exc, _Closed):
                return
            why = "not found" if isinstance(exc, DeviceNotFound) else _describe_error(exc)
            if not self._outage_reported:
                log.debug("microphone: %s", exc)
            self._outage(why)

        try:
            await retry(attempt, policy, on_failure=failed, wake=self._wakeup)
        except RetryGaveUp:
            return False
        return True

    async def frames(self) -> AsyncGenerator[AudioFrame, None]:
        loop = asyncio.get_running_loop()
        while not self._closed.is_set():
            if not await self._open_with_retry(loop):
                break
            got_first = False
            try:
                while not self._closed.is_set():
                    wait_s = self.stall_s if got_first else self.start_s
                    try:
                        async with asyncio.timeout(wait_s):
                            frame = await self._queue.get()
                    except TimeoutError:
                        self._outage(f"stopped delivering audio (nothing for {wait_s:g} s)")
                        break
                    if frame is None or self._failed:
                        if frame is not None and self._failed:
                            self._outage("reported a stream error")
                        break
                    if not got_first:
                        got_first = True
                        if self._outage_reported:
                            self._outage_reported = False
                            self._report(True, f"microphone '{self.label}' is back")
                    self.frames_delivered += 1
                    yield frame
            finally:
                await asyncio.to_thread(self._shut)
                while not self._queue.empty():
                    self._queue.get_nowait()
            if not self._closed.is_set():
                await self._wait_retry()

    async def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._wakeup.set()
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class PyAudioSpeaker:
    """An AudioOutput on a sound card (see the module docstring)."""

    def __init__(self, settings: PyAudioOutput, *, retry_s: float = 3.0) -> None:
        self.settings = settings
        self.label = settings.device or "default"
        self.period = max(1, settings.rate_hz * settings.buffer_ms // 1000)
        self._buffer = PlaybackBuffer(settings.rate_hz, settings.prebuffer_ms)
        self._lock = threading.Lock()
        self._resampler = StreamResampler(LINK_RATE_HZ, settings.rate_hz)
        self._item: str | None = None
        self._pa: pyaudio.PyAudio | None = None
        self._stream: Any = None
        self._idle_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._closed = False
        self._closing = threading.Event()
        self._opened = threading.Event()  # the device clock runs, or opening failed
        self._callbacks = 0
        self._audio_end_dac = 0.0
        self._received: dict[str, int] = {}  # item_id -> 24 kHz samples written
        # reference tap (echo mode reference): (mono int16 at rate_hz, rate_hz, monotonic s
        # when its first sample leaves the speaker), called on the audio thread
        self.on_played: Callable[[np.ndarray, int, float], None] | None = None
        self.last_flush_ms: float | None = None
        self.retry_s = retry_s
        self.error: str | None = None
        self.device_name: str | None = None
        self._opener = threading.Thread(target=self._open_loop, name="speaker-open", daemon=True)
        self._opener.start()

    # -- device ---------------------------------------------------------------------------

    def _open_loop(self) -> None:
        """The opener thread: try until the device opens or the speaker is closed."""
        while not self._closed:
            if self._try_open():
                return
            if self._closing.wait(self.retry_s):
                return

    def _try_open(self) -> bool:
        s = self.settings
        try:
            pa, stream, name = open_stream(
                s.device,
                output=True,
                channels=s.channels,
                rate_hz=s.rate_hz,
                frames_per_buffer=self.period,
                callback=self._callback,
            )
        except Exception as exc:
            message = (
                f"speaker '{self.label}' {_describe_error(exc)}: retrying every {self.retry_s:g} s"
            )
            if message != self.error:
                log.error("%s", message)
            self.error = message
            self._opened.set()
            return False
        if self.error:
            log.info("speaker '%s' is back", self.label)
        with self._lock:
            self._pa, self._stream, self.device_name, self.error = pa, stream, name, None
            if self._closed:
                self._stream = self._pa = None
        if self._stream is None:  # closed meanwhile
            stream.close()
            pa.terminate()
            return True
        return True

    def wait_open(self, timeout_s: float = 10.0) -> bool:
        """Block until the device plays (its clock runs) or failed to open; True if it plays."""
        self._opened.wait(timeout_s)
        return self._stream is not None

    def _callback(self, _data: Any, n: int, info: Any, _status: int) -> tuple[bytes, int]:
        now, dac = info["current_time"], info["output_buffer_dac_time"]
        if dac <= now:  # no DAC time from this host API: the stream's latency instead
            dac = now + self._output_latency_s()
        with self._lock:
            before = self._buffer.queued_samples
            mono = self._buffer.pull(n, dac)
            real = before - self._buffer.queued_samples
            if real > 0:  # device time at which the last real sample handed out plays
                self._audio_end_dac = dac + real / self.settings.rate_hz
            idle = self._buffer.queued_samples == 0
            waiters = list(self._idle_waiters) if idle else []
            if idle:
                self._idle_waiters.clear()
            self._callbacks += 1
        if self._callbacks == _READY_CALLBACKS:
            self._opened.set()
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)
        tap = self.on_played
        if tap is not None and real > 0:
            with contextlib.suppress(Exception):  # a tap must not stop the sound
                tap(
                    np.frombuffer(mono, dtype="<i2")[:real],
                    self.settings.rate_hz,
                    time.monotonic() + (dac - now),
                )
        channels = self.settings.channels
        if channels > 1:
            mono = np.repeat(np.frombuffer(mono, dtype="<i2"), channels).tobytes()
        return mono, pyaudio.paContinue

    # -- AudioOutput ----------------------------------------------------------------------

    def _output_latency_s(self) -> float:
        stream = self._stream
        try:
            return float(stream.get_output_latency()) if stream is not None else 0.0
        except OSError:
            return 0.0

    def write(self, item_id: str, pcm: bytes) -> None:
        if self._closed or self.error is not None:
            return  # no speaker: the reply is lost and its clock does not run
        self._received[item_id] = self._received.get(item_id, 0) + len(pcm) // SAMPLE_BYTES
        out = []
        if item_id != self._item:
            if self._item is not None:
                out.append((self._item, self._resampler.flush()))
            self._item = item_id
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % SAMPLE_BYTES], dtype="<i2")
        out.append((item_id, self._resampler.process(samples)))
        with self._lock:
            for item, block in out:
                self._buffer.write(item, block.astype("<i2", copy=False).tobytes())

    def _drain_resampler(self) -> None:
        if self._item is not None:
            tail = self._resampler.flush()
            with self._lock:
                self._buffer.write(self._item, tail.astype("<i2", copy=False).tobytes())
            self._item = None

    def flush(self) -> None:
        """Silence at once: the next device period is silence; nothing queued survives.

        Returns without waiting. ``last_flush_ms`` is how long audio already handed to the
        device still plays, by the device's own latency report; ``heard_ms`` counts it at
        once (it cannot be taken back), so right after a flush it is the truncation point.
        """
        self._resampler.reset()
        self._item = None
        with self._lock:
            self._buffer.flush()
            waiters = list(self._idle_waiters)
            self._idle_waiters.clear()
        self.last_flush_ms = self.pending_output_s() * 1000.0
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    @property
    def sound_end_s(self) -> float:
        """When the last sample handed to the card leaves the speaker (stream clock; 0: never)."""
        return self._audio_end_dac

    def pending_output_s(self) -> float:
        """Seconds until the last sample handed to the device has been played (device clock)."""
        stream = self._stream
        if stream is None or not self._audio_end_dac:
            return 0.0
        try:
            return max(0.0, self._audio_end_dac - float(stream.get_time()))
        except OSError:
            return 0.0

    def heard_ms(self, item_id: str) -> float:
        """Ms of the item that reached the speaker (the DAC clock: not the jitter buffer,
        not the card's buffer); after a flush, all that will sound before it stops."""
        stream = self._stream
        try:
            now = float(stream.get_time()) if stream is not None else None
        except OSError:
            now = None
        with self._lock:
            if now is None:
                return self._buffer.played_ms(item_id)
            return self._buffer.heard_ms(item_id, now)

    def played_ms(self, item_id: str) -> float:
        """The seam's name for ``heard_ms``."""
        return self.heard_ms(item_id)

    def received_ms(self, item_id: str) -> float:
        """Ms of the item written to the speaker (24 kHz, before resampling)."""
        return self._received.get(item_id, 0) * 1000.0 / LINK_RATE_HZ

    def forget(self, keep: set[str] | None = None) -> None:
        """Drop the clocks of items not in ``keep`` (a new conversation)."""
        keep = keep or set()
        with self._lock:
            self._buffer.forget(keep)
        for item in [i for i in self._received if i not in keep]:
            del self._received[item]

    def queued_ms(self) -> float:
        with self._lock:
            return self._buffer.queued_ms()

    @property
    def underruns(self) -> int:
        return self._buffer.underruns

    async def wait_idle(self) -> None:
        self._drain_resampler()
        loop = asyncio.get_running_loop()
        while True:
            event = asyncio.Event()
            with self._lock:
                if self.error is not None or self._closed:
                    return
                if self._buffer.queued_samples == 0:
                    break
                self._idle_waiters.append((loop, event))
            await event.wait()
        await asyncio.sleep(self.pending_output_s())  # until the card's buffer has sounded

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self.flush()
        with self._lock:
            stream, pa = self._stream, self._pa
            self._stream = self._pa = None

        await asyncio.to_thread(close_stream, pa, stream, "speaker")
