"""The capture pipeline: microphone frames in, gated 24 kHz mono upload chunks out (pure).

Per frame: pick the configured channel; resample with soxr streaming resamplers (state kept
across frames, so no clicks at frame edges) to 24 kHz for the upload and, when asked
(``with_16k=True``), to 16 kHz for wake word and VAD (``pcm_16k`` holds the latest
frame's). The 24 kHz stream is cut into 10 ms blocks; each is measured and passed to the
noise gate:

- gate closed: the block goes into the pre-roll ring, nothing is uploaded;
- gate opens: the pre-roll (the audio just before) and the block are uploaded;
- gate open: the block is uploaded;
- gate closes: the chunk being filled is completed with the next audio, then upload stops.

Uploads are cut into chunks of exactly ``chunk_ms`` for ``input_audio_buffer.append``.
With ``gate.enabled`` false, everything is uploaded (still chunked; levels still measured).

Example::

    pipe = CapturePipeline(48000, 4, 0, GateSettings(), chunk_ms=40)
    for chunk in pipe.process(frame):
        link.send(input_audio_append(chunk))
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from device.audio.frames import LINK_RATE_HZ, SAMPLE_BYTES, AudioFrame, pcm_bytes
from device.audio.gate import NoiseGate, speech_levels_db
from device.audio.preroll import PreRoll
from device.audio.resample import StreamResampler, pick_channel
from device.audio.settings import GateSettings

BLOCK_MS = 10
WAKE_RATE_HZ = 16000
_OPEN_ALL = GateSettings(enabled=False)


class CapturePipeline:
    """See the module docstring. ``uploaded_bytes`` / ``captured_bytes`` count bytes out/in.

    ``trace``: set it to a list to record ``(first_sample, n_samples)`` of every span of the
    24 kHz stream that was uploaded (benchmarks and tests; None by default).
    """

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
        self._position = 0  # 24 kHz sample index of the next block
        self.pcm_16k = b""
        self.captured_bytes = 0
        self.uploaded_bytes = 0
        self.trace: list[tuple[int, int]] | None = None
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

    def reset(self) -> None:
        """Start afresh (a new conversation): drop partial audio, pre-roll and gate state.

        The noise floor is kept: the room did not change. Nothing heard before the reset is
        uploaded after it.
        """
        self._to_24k.reset()
        if self._to_16k is not None:
            self._to_16k.reset()
        self._gate.reset()
        self._preroll.clear()
        self._block.clear()
        self._pending.clear()
        self.hold_open = False

    # -- the hot path ---------------------------------------------------------------------

    def process(self, frame: AudioFrame) -> list[bytes]:
        """The complete upload chunks this frame finishes (often none or one)."""
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
        # levels of all blocks at once, each over a 20 ms window (the block before it too)
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
            self._preroll.clear()  # uploaded: never again as pre-roll
            self._upload(position, block, chunks)
        elif not self.gate_settings.enabled or (was_open and is_open):
            self._upload(position, block, chunks)
        elif is_open:  # just opened: the audio just before first
            for pos, old in self._preroll.take():
                self._upload(pos, old, chunks)
            self._upload(position, block, chunks)
        elif self._pending:  # just closed or closing: complete the chunk being filled
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
