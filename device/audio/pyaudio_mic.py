"""The microphone on a sound card through PyAudio / PortAudio (an AudioInput).

PortAudio's callback thread hands each frame to the event loop with
``loop.call_soon_threadsafe`` into a bounded queue; when the queue is full the oldest frame
is dropped and ``overflows`` counted: the callback never blocks. A device that is missing,
or stops delivering audio (unplugged: stream error or no callback for ``stall_s``), is
reported once through ``on_health(False, message)`` and opened again every ``retry_s``
through the one retry helper until it is back (``on_health(True, message)``).

Example::

    mic = PyAudioMic(PyAudioInput(device="ReSpeaker", channels=6), on_health=print)
    async for frame in mic.frames(): ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import pyaudio

from device.audio.devices import DeviceNotFound, close_stream, describe_open_error, open_stream
from device.audio.frames import SAMPLE_BYTES, AudioFrame
from device.audio.settings import PyAudioInput
from device.retry.attempts import Classified, Failure, RetryGaveUp, RetryPolicy, retry

log = logging.getLogger(__name__)

HealthCallback = Callable[[bool, str], None]


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
            why = "not found" if isinstance(exc, DeviceNotFound) else describe_open_error(exc)
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
