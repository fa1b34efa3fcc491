"""The speaker on a sound card through PyAudio / PortAudio (an AudioOutput).

Replies (24 kHz mono PCM16) are resampled to the device rate with soxr and queued in a
``PlaybackBuffer``; the device's callback pulls exactly one period at a time, so the
playback clock counts what was really handed to the device (and, from PortAudio's DAC
time, what reached the speaker), and ``flush()`` silences it from the next period on,
without blocking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyaudio

from device.audio.devices import close_stream, describe_open_error, open_stream
from device.audio.frames import SAMPLE_BYTES, SPEECH_RATE_HZ
from device.audio.playback import PlaybackBuffer
from device.audio.resample import StreamResampler
from device.audio.settings import PyAudioOutput

log = logging.getLogger(__name__)

_READY_CALLBACKS = 8  # past PortAudio's priming: the device consumes audio on its clock


class PyAudioSpeaker:
    """An AudioOutput on a sound card (see the module docstring)."""

    def __init__(self, settings: PyAudioOutput, *, retry_s: float = 3.0) -> None:
        self.settings = settings
        self.label = settings.device or "default"
        self.period = max(1, settings.rate_hz * settings.buffer_ms // 1000)
        self._buffer = PlaybackBuffer(settings.rate_hz, settings.prebuffer_ms)
        self._lock = threading.Lock()
        self._resampler = StreamResampler(SPEECH_RATE_HZ, settings.rate_hz)
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
        # callbacks PortAudio flagged late (output underflow: the card ran dry; through a
        # sound server what it held may be dropped yet count as heard); the bench reports it
        self.underflows = 0
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
            why = describe_open_error(exc)
            message = f"speaker '{self.label}' {why}: retrying every {self.retry_s:g} s"
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

    def _callback(self, _data: Any, n: int, info: Any, status: int) -> tuple[bytes, int]:
        if status & pyaudio.paOutputUnderflow:
            self.underflows += 1
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

    def hold(self, max_ms: float) -> None:
        """Pause playback from the next device period on, for at most ``max_ms`` of device
        time (then it goes on by itself): the queue and the clock stay, ``heard_ms`` counts
        what was handed out before. Any thread; returns at once. ``resume()`` ends it
        sooner, ``flush()`` ends it with the queue dropped (the barge-in confirmed)."""
        with self._lock:
            self._buffer.hold(int(max_ms * self.settings.rate_hz / 1000.0))

    def resume(self) -> None:
        """End a hold now: playback goes on where it paused (any thread)."""
        with self._lock:
            self._buffer.resume()

    @property
    def holds(self) -> int:
        """Holds so far; ``holds_resumed``: those that ended with the reply going on."""
        return self._buffer.holds

    @property
    def holds_resumed(self) -> int:
        return self._buffer.holds_resumed

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
        return self._received.get(item_id, 0) * 1000.0 / SPEECH_RATE_HZ

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
