"""BENCHMARK BASELINE ONLY: a frozen copy of the capture pipeline as it was at commit 3849407.

Not part of the device: nothing under device/ imports this module, and it must not be
edited to follow the device's code. tools/bench.py runs it beside today's
``device.audio.pipeline.CapturePipeline`` in the same run (``audio_cpu_baseline_rtf``,
``audio_cpu_vs_baseline``), and tests compare the uploads of the two on the shop-floor
recording. It holds the channel pick, soxr stream resampler, speech-band level, noise gate,
pre-roll and chunking of that commit, with its own constants (24 kHz upload, 16 kHz side
stream) so renames in device/ do not reach it. Only ``GateSettings`` and ``AudioFrame``
(plain data) come from device/.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt
import soxr
from numpy.lib.stride_tricks import sliding_window_view

from device.audio.frames import AudioFrame
from device.audio.settings import GateSettings

SAMPLE_BYTES = 2
LINK_RATE_HZ = 24000
WAKE_RATE_HZ = 16000
BLOCK_MS = 10
SILENCE_DB = -120.0
BAND_HZ = (250.0, 4000.0)
_FLOOR_EVERY = 10
_OPEN_ALL = GateSettings(enabled=False)

Samples = npt.NDArray[np.int16]
_windows: dict[int, npt.NDArray[np.float32]] = {}


def pcm_bytes(ms: float, rate_hz: int, channels: int = 1) -> int:
    return int(ms * rate_hz / 1000.0) * channels * SAMPLE_BYTES


# -- resample.py ------------------------------------------------------------------------


def pick_channel(pcm: bytes, channels: int, channel: int) -> Samples:
    samples = np.frombuffer(pcm, dtype="<i2")
    if channels == 1:
        return samples
    usable = len(samples) - len(samples) % channels
    return np.ascontiguousarray(samples[:usable].reshape(-1, channels)[:, channel])


class StreamResampler:
    def __init__(self, in_rate_hz: int, out_rate_hz: int, quality: str = "HQ") -> None:
        self.in_rate_hz = in_rate_hz
        self.out_rate_hz = out_rate_hz
        self.quality = quality
        self._stream: soxr.ResampleStream | None = None
        self.reset()

    @property
    def passthrough(self) -> bool:
        return self.in_rate_hz == self.out_rate_hz

    def reset(self) -> None:
        self._stream = (
            None
            if self.passthrough
            else soxr.ResampleStream(
                self.in_rate_hz, self.out_rate_hz, 1, dtype="int16", quality=self.quality
            )
        )

    def process(self, samples: Samples) -> Samples:
        if self._stream is None:
            return samples
        out: Samples = self._stream.resample_chunk(np.ascontiguousarray(samples, dtype=np.int16))
        return out


# -- gate.py ----------------------------------------------------------------------------


def speech_levels_db(windows: npt.NDArray[np.int16], rate_hz: int) -> npt.NDArray[np.float64]:
    k, n = windows.shape
    if k == 0 or n == 0:
        return np.full(k, SILENCE_DB)
    window = _windows.get(n)
    if window is None:
        window = _windows[n] = np.hanning(n).astype(np.float32)
    spectrum = np.fft.rfft(windows.astype(np.float32) * window, axis=1)
    lo = int(BAND_HZ[0] * n / rate_hz)
    hi = min(spectrum.shape[1], int(BAND_HZ[1] * n / rate_hz) + 1)
    band = spectrum[:, lo:hi]
    power = (band.real**2 + band.imag**2).sum(axis=1) * 2.0 / (n * float(np.square(window).sum()))
    levels: npt.NDArray[np.float64] = 10.0 * np.log10(power / (32768.0 * 32768.0) + 1e-12)
    return np.maximum(levels, SILENCE_DB)


class NoiseGate:
    def __init__(self, settings: GateSettings, block_ms: float = 10.0) -> None:
        self.settings = settings
        self.block_ms = block_ms
        size = max(1, round(settings.floor_window_s * 1000.0 / block_ms))
        self._history = np.full(size, np.nan)
        self._filled = 0
        self._next = 0
        self._since_floor = 0
        self.floor_db = SILENCE_DB
        self.level_db = SILENCE_DB
        self.is_open = False
        self._above_ms = 0.0
        self._quiet_ms = 0.0

    @property
    def open_threshold_db(self) -> float:
        s = self.settings
        return max(self.floor_db + s.open_db, s.min_open_dbfs)

    @property
    def close_threshold_db(self) -> float:
        s = self.settings
        return max(self.floor_db + s.close_db, s.min_open_dbfs - (s.open_db - s.close_db))

    def reset(self) -> None:
        self.is_open = False
        self._above_ms = 0.0
        self._quiet_ms = 0.0

    def update(self, level_db: float, block_ms: float | None = None) -> bool:
        ms = self.block_ms if block_ms is None else block_ms
        self.level_db = level_db
        self._track_floor(level_db)
        s = self.settings
        if not self.is_open:
            if level_db >= self.open_threshold_db:
                self._above_ms += ms
                if self._above_ms >= s.attack_ms:
                    self.is_open = True
                    self._quiet_ms = 0.0
            elif level_db < self.close_threshold_db:
                self._above_ms = 0.0
        else:
            if level_db >= self.close_threshold_db:
                self._quiet_ms = 0.0
            else:
                self._quiet_ms += ms
                if self._quiet_ms >= s.hangover_ms:
                    self.is_open = False
                    self._above_ms = 0.0
        return self.is_open

    def _track_floor(self, level_db: float) -> None:
        self._history[self._next] = level_db
        self._next = (self._next + 1) % len(self._history)
        self._filled = min(self._filled + 1, len(self._history))
        self._since_floor += 1
        if self._filled < _FLOOR_EVERY or self._since_floor >= _FLOOR_EVERY:
            self._since_floor = 0
            filled = (
                self._history
                if self._filled == len(self._history)
                else self._history[: self._filled]
            )
            self.floor_db = float(np.percentile(filled, self.settings.floor_percentile))


# -- preroll.py -------------------------------------------------------------------------


class PreRoll:
    def __init__(self, capacity_blocks: int) -> None:
        self.capacity_blocks = max(0, capacity_blocks)
        self._blocks: deque[tuple[int, bytes]] = deque(maxlen=self.capacity_blocks or 1)

    def __len__(self) -> int:
        return len(self._blocks) if self.capacity_blocks else 0

    def push(self, position: int, block: bytes) -> None:
        if self.capacity_blocks:
            self._blocks.append((position, block))

    def take(self) -> list[tuple[int, bytes]]:
        out = list(self._blocks) if self.capacity_blocks else []
        self._blocks.clear()
        return out

    def clear(self) -> None:
        self._blocks.clear()


# -- pipeline.py ------------------------------------------------------------------------


class BaselineCapturePipeline:
    """The capture pipeline of commit 3849407 (``with_16k`` / ``pcm_16k`` included)."""

    def __init__(
        self,
        input_rate_hz: int,
        channels: int,
        channel: int,
        gate: GateSettings | None = None,
        chunk_ms: int = 40,
        *,
        with_16k: bool = False,
    ) -> None:
        if not 0 <= channel < channels:
            raise ValueError(f"channel {channel} does not exist (the input has {channels})")
        self.input_rate_hz = input_rate_hz
        self.channels = channels
        self.channel = channel
        self.gate_settings = gate if gate is not None else _OPEN_ALL
        self.chunk_bytes = pcm_bytes(chunk_ms, LINK_RATE_HZ)
        self.block_bytes = pcm_bytes(BLOCK_MS, LINK_RATE_HZ)
        self._to_24k = StreamResampler(input_rate_hz, LINK_RATE_HZ)
        self._to_16k = StreamResampler(input_rate_hz, WAKE_RATE_HZ) if with_16k else None
        self._gate = NoiseGate(self.gate_settings, BLOCK_MS)
        self._preroll = PreRoll(math.ceil(self.gate_settings.preroll_ms / BLOCK_MS))
        self._block = bytearray()
        self._last_block = b""
        self._pending = bytearray()
        self._position = 0
        self.pcm_16k = b""
        self.captured_bytes = 0
        self.uploaded_bytes = 0
        self.trace: list[tuple[int, int]] | None = None
        self.hold_open = False

    @property
    def gate_open(self) -> bool:
        return not self.gate_settings.enabled or self._gate.is_open

    @property
    def level_db(self) -> float:
        return self._gate.level_db

    @property
    def floor_db(self) -> float:
        return self._gate.floor_db

    def reset(self) -> None:
        self._to_24k.reset()
        if self._to_16k is not None:
            self._to_16k.reset()
        self._gate.reset()
        self._preroll.clear()
        self._block.clear()
        self._pending.clear()
        self.hold_open = False

    def process(self, frame: AudioFrame) -> list[bytes]:
        self.captured_bytes += len(frame.pcm)
        mono = pick_channel(frame.pcm, self.channels, self.channel)
        if self._to_16k is not None:
            self.pcm_16k = self._to_16k.process(mono).astype("<i2", copy=False).tobytes()
        self._block += self._to_24k.process(mono).astype("<i2", copy=False).tobytes()
        chunks: list[bytes] = []
        n = self.block_bytes
        count = len(self._block) // n
        if count == 0:
            return chunks
        blocks = bytes(self._block[: count * n])
        del self._block[: count * n]
        stream = np.frombuffer(self._last_block + blocks, dtype="<i2")
        if not self._last_block:
            stream = np.concatenate([np.zeros(n // SAMPLE_BYTES, dtype="<i2"), stream])
        half = n // SAMPLE_BYTES
        windows = sliding_window_view(stream, 2 * half)[::half]
        levels = speech_levels_db(windows, LINK_RATE_HZ)
        self._last_block = blocks[-n:]
        for i in range(count):
            self._route(blocks[i * n : (i + 1) * n], float(levels[i]), chunks)
        return chunks

    def _route(self, block: bytes, level_db: float, chunks: list[bytes]) -> None:
        position = self._position
        self._position += len(block) // SAMPLE_BYTES
        was_open = self._gate.is_open
        is_open = self._gate.update(level_db, BLOCK_MS)
        if self.hold_open:
            self._preroll.clear()
            self._upload(position, block, chunks)
        elif not self.gate_settings.enabled or (was_open and is_open):
            self._upload(position, block, chunks)
        elif is_open:
            for pos, old in self._preroll.take():
                self._upload(pos, old, chunks)
            self._upload(position, block, chunks)
        elif self._pending:
            need = self.chunk_bytes - len(self._pending)
            head, rest = block[:need], block[need:]
            self._upload(position, head, chunks)
            if rest:
                self._preroll.push(position + len(head) // SAMPLE_BYTES, rest)
        else:
            self._preroll.push(position, block)

    def _upload(self, position: int, pcm: bytes, chunks: list[bytes]) -> None:
        if self.trace is not None:
            self.trace.append((position, len(pcm) // SAMPLE_BYTES))
        self._pending += pcm
        while len(self._pending) >= self.chunk_bytes:
            chunks.append(bytes(self._pending[: self.chunk_bytes]))
            del self._pending[: self.chunk_bytes]
            self.uploaded_bytes += self.chunk_bytes
