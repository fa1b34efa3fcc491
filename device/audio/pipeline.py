"""The capture pipeline: microphone frames in, gated mono upload chunks out (pure).

Per frame: pick the configured channel; resample with soxr streaming resamplers (state kept
across frames, so no clicks at frame edges) to ``upload_rate_hz`` (the device's speech
rate, ``SPEECH_RATE_HZ``) for the upload and, while anyone subscribes, to 16 kHz for the
wake word and the local speech detector (the 16 kHz fan-out below). The upload stream is
cut into 10 ms blocks; each is measured (speech-band level over 20 ms: the block and the one
before it) and passed to the noise gate:

- gate closed: the block goes into the pre-roll ring, nothing is uploaded;
- gate opens: the pre-roll (the audio just before) and the block are uploaded;
- gate open: the block is uploaded;
- gate closes: the chunk being filled is completed with the next audio, then upload stops.

Uploads are cut into chunks of exactly ``chunk_ms``. With ``gate.enabled`` false,
everything is uploaded (still chunked; levels still measured). ``hold_open`` (or
``set_hold_open(True)``) uploads everything whatever the gate says, while the server has
heard the caller start and not yet stop.

The hot path works on preallocated numpy buffers: each sample of the upload stream is
copied once into the block buffer and converted to float once (for the level), and stays an
int16 array until a finished chunk is encoded to bytes.

16 kHz fan-out: ``subscribe_16k(consumer)`` calls ``consumer(samples)`` once per frame with
that frame's 16 kHz mono int16 samples of the configured channel, in order and without gaps
(a frame the resampler's delay leaves empty is skipped: never an empty array). All
consumers get the same array, resampled once however many subscribe; it is read-only and
never reused by the pipeline, so a consumer may keep it without copying. No consumer, no
16 kHz resampling; the first subscriber after none starts a fresh stream. A consumer runs
on the capture path, before the frame's upload: it must be fast (hand the work to a
thread). One that raises is logged once by name and counted (``consumer_errors``, by
name); capture goes on. Subscribe and unsubscribe on the thread that calls ``process``.

Batching while idle: with ``set_batching(True)`` (the daemon sets it while nobody is in a
conversation) frames are gathered until ``BATCH_MS`` (80 ms: one wake-word frame, so the wake
word gets its audio no later) and processed as one: per-call costs are paid once per 80 ms
instead of once per frame, which is most of the capture path's CPU in a quiet room. The
local speech detector and the upload never run batched. Switched off, the gathered frames
go with the next frame. ``set_batch_veto(veto)``: while ``veto()`` is true (the wake word
wants an early look at what may be the end of its phrase) each frame goes out as it comes,
batching or not, with what was gathered before it. ``set_batch_stretch(stretch)``: while
``stretch()`` is true (the wake word's models are idle: a quiet room) batches are
``IDLE_BATCH_MS`` (160 ms) long, halving the per-call costs again; the first loud frames
then reach the wake word up to 80 ms later, long before a phrase can end. ``pending_ms``
(audio after the last chunk returned) lets a caller place each chunk of a batch in time.

Example::

    pipe = CapturePipeline(48000, 4, 0, GateSettings(), chunk_ms=40, upload_rate_hz=24000)
    pipe.subscribe_16k(wake_word.feed)
    for chunk in pipe.process(frame):
        link.send(AppendAudio(chunk))
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from device.audio.frames import AudioFrame, pcm_bytes
from device.audio.gate import NoiseGate, SpeechMeter
from device.audio.preroll import PreRoll
from device.audio.resample import StreamResampler, pick_channel
from device.audio.settings import GateSettings

log = logging.getLogger(__name__)

BLOCK_MS = 10
BATCH_MS = 80  # idle batches: one wake-word frame
IDLE_BATCH_MS = 160  # idle batches while the wake word's models are idle too (a quiet room)
WAKE_RATE_HZ = 16000  # the fan-out rate: wake word and local speech detector
_OPEN_ALL = GateSettings(enabled=False)
_BUFFER_BLOCKS = 100  # the stream buffer's length (1 s); it grows for longer frames

Samples = npt.NDArray[np.int16]
Consumer16k = Callable[[Samples], None]


def consumer_name(consumer: object) -> str:
    """A consumer's name for the log: its qualified name, or its repr."""
    return str(getattr(consumer, "__qualname__", None) or repr(consumer))


class CapturePipeline:
    """See the module docstring. ``uploaded_bytes`` / ``captured_bytes`` count bytes out/in.

    ``trace``: set it to a list to record ``(first_sample, n_samples)`` of every span of the
    upload stream that was uploaded (benchmarks and tests; None by default).
    """

    def __init__(
        self,
        input_rate_hz: int,
        channels: int,
        channel: int,
        gate: GateSettings | None = None,
        chunk_ms: int = 40,
        *,
        upload_rate_hz: int,
    ) -> None:
        if not 0 <= channel < channels:
            raise ValueError(f"channel {channel} does not exist (the input has {channels})")
        if upload_rate_hz < 8000:
            raise ValueError(
                f"upload_rate_hz {upload_rate_hz} is too low: the speech band needs 8000 or more"
            )
        self.input_rate_hz = input_rate_hz
        self.channels = channels
        self.channel = channel
        self.upload_rate_hz = upload_rate_hz
        self.gate_settings = gate if gate is not None else _OPEN_ALL
        self.chunk_bytes = pcm_bytes(chunk_ms, upload_rate_hz)
        self.block_bytes = pcm_bytes(BLOCK_MS, upload_rate_hz)
        block_n = self._block_samples = self.block_bytes // 2
        self._chunk_samples = self.chunk_bytes // 2
        self._to_upload = StreamResampler(input_rate_hz, upload_rate_hz)
        self._to_16k: StreamResampler | None = None
        self._consumers: tuple[Consumer16k, ...] = ()
        self.consumer_errors: dict[str, int] = {}
        self._gate = NoiseGate(self.gate_settings, BLOCK_MS)
        self._meter = SpeechMeter(2 * block_n, upload_rate_hz)
        self._preroll = PreRoll(math.ceil(self.gate_settings.preroll_ms / BLOCK_MS), block_n)
        # the upload stream, as int16 and as float32 (converted once), in preallocated
        # buffers: from ``_read`` the block before the next one (for its level window; zeros
        # at first), then the next blocks up to ``_fill``. When the end is reached, what is
        # left moves to the front (about once a second).
        self._samples = np.zeros(0, dtype=np.int16)
        self._floats = np.zeros(0, dtype=np.float32)
        self._all_windows = np.zeros((0, 2 * block_n), dtype=np.float32)
        self._grow(_BUFFER_BLOCKS * block_n)
        self._read = 0
        self._fill = block_n
        self._pending = np.zeros(self._chunk_samples, dtype=np.int16)
        self._pending_n = 0
        self._position = 0  # upload-stream sample index of the next block
        self.captured_bytes = 0
        self.uploaded_bytes = 0
        self.trace: list[tuple[int, int]] | None = None
        self._batching = False
        self._batch_veto: Callable[[], bool] | None = None
        self._batch_stretch: Callable[[], bool] | None = None
        self._batch: list[AudioFrame] = []
        self._batch_ms = 0.0
        # the server heard the caller start and not yet stop: upload even when the gate is
        # closed, or the server never hears the silence that ends the turn (semantic VAD
        # waits longer than any hangover)
        self.hold_open = False

    # -- state ----------------------------------------------------------------------------

    @property
    def gate_open(self) -> bool:
        return not self.gate_settings.enabled or self._gate.is_open

    @property
    def level_db(self) -> float:
        """Speech-band level of the latest 10 ms block (about dBFS)."""
        return self._gate.level_db

    @property
    def floor_db(self) -> float:
        """The noise floor the gate currently assumes (about dBFS)."""
        return self._gate.floor_db

    @property
    def pending_ms(self) -> float:
        """Upload-stream audio after the last complete chunk (ms), gathered frames included."""
        return self._pending_n * 1000.0 / self.upload_rate_hz + self._batch_ms

    def set_batching(self, on: bool) -> None:
        """Gather frames into 80 ms batches (on) or process each as it comes (off)."""
        self._batching = on

    def set_batch_veto(self, veto: Callable[[], bool] | None) -> None:
        """See the module docstring (None: no veto)."""
        self._batch_veto = veto

    def set_batch_stretch(self, stretch: Callable[[], bool] | None) -> None:
        """See the module docstring (None: batches are always ``BATCH_MS``)."""
        self._batch_stretch = stretch

    def set_hold_open(self, on: bool) -> None:
        """Upload everything (on) or only what the gate lets through (off): ``hold_open``."""
        self.hold_open = on

    def reset(self, *, keep_gate: bool = False) -> None:
        """Start afresh (a new conversation): drop partial audio, pre-roll and gate state.

        The noise floor is kept: the room did not change. Nothing heard before the reset is
        uploaded after it. The 16 kHz consumers stay subscribed. ``keep_gate``: the gate
        stays open if it is (someone is talking now, in a room whose floor has risen with
        the talk: a new start must not wait for the gate to open on them again).
        """
        if self._batch:  # heard before the reset: its 16 kHz audio still goes out
            self._process(self._joined_batch())
        self._to_upload.reset()
        if self._to_16k is not None:
            self._to_16k.reset()
        if not keep_gate:
            self._gate.reset()
        self._preroll.clear()
        self._fill = self._read + self._block_samples  # the last block stays, for its level window
        self._pending_n = 0
        self.hold_open = False

    # -- the 16 kHz fan-out ---------------------------------------------------------------

    @property
    def subscribers_16k(self) -> int:
        """How many consumers receive 16 kHz audio (0: none is made)."""
        return len(self._consumers)

    def subscribe_16k(self, consumer: Consumer16k) -> None:
        """Call ``consumer(samples)`` with each frame's 16 kHz audio (module docstring)."""
        if consumer in self._consumers:
            raise ValueError(f"{consumer_name(consumer)} already receives the 16 kHz audio")
        if self._to_16k is None:
            self._to_16k = StreamResampler(self.input_rate_hz, WAKE_RATE_HZ)
        self._consumers = (*self._consumers, consumer)

    def unsubscribe_16k(self, consumer: Consumer16k) -> None:
        """Stop calling ``consumer`` (nothing happens if it was not subscribed)."""
        self._consumers = tuple(c for c in self._consumers if c != consumer)
        if not self._consumers:
            self._to_16k = None  # a later subscriber starts a fresh stream

    def _fan_out(self, mono: Samples) -> None:
        assert self._to_16k is not None
        samples = self._to_16k.process(mono)
        if not len(samples):
            return
        if samples.flags.writeable:
            if samples is mono and self.channels == 1:  # a view of the caller's buffer
                samples = samples.copy()
            samples.flags.writeable = False
        for consumer in self._consumers:
            try:
                consumer(samples)
            except Exception:
                name = consumer_name(consumer)
                count = self.consumer_errors.get(name, 0) + 1
                self.consumer_errors[name] = count
                if count == 1:
                    log.exception("16 kHz consumer %s failed (counted; capture goes on)", name)

    # -- the hot path ---------------------------------------------------------------------

    def process(self, frame: AudioFrame) -> list[bytes]:
        """The complete upload chunks this frame finishes (often none or one; batching:
        none until a batch is complete)."""
        if self._batching or self._batch:
            self._batch.append(frame)
            self._batch_ms += frame.duration_ms
            if (
                self._batching
                and self._batch_ms < self._batch_limit_ms() - 0.5
                and not (self._batch_veto is not None and self._batch_veto())
            ):
                return []
            frame = self._joined_batch()
        return self._process(frame)

    def _batch_limit_ms(self) -> int:
        stretch = self._batch_stretch
        return IDLE_BATCH_MS if stretch is not None and stretch() else BATCH_MS

    def _joined_batch(self) -> AudioFrame:
        """The gathered frames as one (the batch emptied)."""
        frames, self._batch, self._batch_ms = self._batch, [], 0.0
        if len(frames) == 1:
            return frames[0]
        last = frames[-1]
        pcm = b"".join(f.pcm for f in frames)
        return AudioFrame(pcm, last.rate_hz, last.channels, frames[0].t_ms)

    def _process(self, frame: AudioFrame) -> list[bytes]:
        self.captured_bytes += len(frame.pcm)
        mono = pick_channel(frame.pcm, self.channels, self.channel)
        if self._consumers:
            self._fan_out(mono)
        new = self._to_upload.process(mono)
        chunks: list[bytes] = []
        block_n = self._block_samples
        start = self._fill
        end = start + len(new)
        if end > len(self._samples):
            start, end = self._compact(end - start)
        self._samples[start:end] = new
        self._floats[start:end] = new  # the one conversion to float
        read = self._read
        count = (end - read - block_n) // block_n
        self._fill = end
        if count <= 0:
            return chunks
        first = read // block_n  # window i: the block before block i, and block i
        levels = self._meter.levels_db(self._all_windows[first : first + count]).tolist()
        samples = self._samples
        route = self._route
        for i in range(count):
            a = read + (i + 1) * block_n
            route(samples[a : a + block_n], levels[i], chunks)
        self._read = read + count * block_n
        return chunks

    def _compact(self, incoming: int) -> tuple[int, int]:
        """Move the unread audio to the front (growing if needed); where ``incoming`` goes."""
        read, fill = self._read, self._fill
        kept = fill - read
        if kept + incoming > len(self._samples):
            self._grow(kept + incoming)
        self._samples[:kept] = self._samples[read:fill]
        self._floats[:kept] = self._floats[read:fill]
        self._read, self._fill = 0, kept
        return kept, kept + incoming

    def _grow(self, n_samples: int) -> None:
        block_n = self._block_samples
        size = -(-max(n_samples, 2 * len(self._samples)) // block_n) * block_n  # whole blocks
        samples = np.zeros(size, dtype=np.int16)
        floats = np.zeros(size, dtype=np.float32)
        samples[: len(self._samples)] = self._samples
        floats[: len(self._floats)] = self._floats
        self._samples, self._floats = samples, floats
        # window j: samples [j * block_n, j * block_n + 2 * block_n) of the float buffer (a view)
        self._all_windows = as_strided(
            floats,
            shape=(size // block_n - 1, 2 * block_n),
            strides=(block_n * floats.itemsize, floats.itemsize),
            writeable=False,
        )

    def _route(self, block: Samples, level_db: float, chunks: list[bytes]) -> None:
        position = self._position
        self._position += self._block_samples
        gate = self._gate
        was_open = gate.is_open
        is_open = gate.update(level_db, BLOCK_MS)
        if self.hold_open:
            self._preroll.clear()  # uploaded: never again as pre-roll
            self._upload(position, block, chunks)
        elif (was_open and is_open) or not self.gate_settings.enabled:
            self._upload(position, block, chunks)
        elif is_open:  # just opened: the audio just before first
            for pos, old in self._preroll.take():
                self._upload(pos, old, chunks)
            self._upload(position, block, chunks)
        elif self._pending_n:  # just closed or closing: complete the chunk being filled
            need = self._chunk_samples - self._pending_n
            head = block[:need]
            self._upload(position, head, chunks)
            if len(block) > need:
                self._preroll.push(position + need, block[need:])
        else:
            self._preroll.push(position, block)

    def _upload(self, position: int, samples: Samples, chunks: list[bytes]) -> None:
        n = len(samples)
        if self.trace is not None:
            self.trace.append((position, n))
        pending, size = self._pending, self._chunk_samples
        done = 0
        while done < n:
            fill = self._pending_n
            take = min(size - fill, n - done)
            pending[fill : fill + take] = samples[done : done + take]
            done += take
            if fill + take == size:
                chunks.append(pending.tobytes())  # the one encoding to bytes
                self._pending_n = 0
                self.uploaded_bytes += self.chunk_bytes
            else:
                self._pending_n = fill + take
