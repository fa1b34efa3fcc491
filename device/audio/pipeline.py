"""The capture pipeline: microphone frames in, 24 kHz mono upload chunks out (pure).

Picks the configured channel, resamples with a soxr streaming resampler (state kept across
frames, so there are no clicks at frame edges) and cuts the stream into chunks of
``chunk_ms`` for ``input_audio_buffer.append``. The noise gate and pre-roll (issue 3) will sit
between the resampler and the chunker.
"""

from __future__ import annotations

import numpy as np
import soxr

from device.audio.frames import LINK_RATE_HZ, AudioFrame, pcm_bytes


class CapturePipeline:
    def __init__(self, input_rate_hz: int, channels: int, channel: int, chunk_ms: int) -> None:
        if not 0 <= channel < channels:
            raise ValueError(f"channel {channel} does not exist (the input has {channels})")
        self.input_rate_hz = input_rate_hz
        self.channels = channels
        self.channel = channel
        self.chunk_bytes = pcm_bytes(chunk_ms, LINK_RATE_HZ)
        self._resampler: soxr.ResampleStream | None = None
        self._pending = bytearray()
        self.captured_bytes = 0
        self.uploaded_bytes = 0
        self.reset()

    def reset(self) -> None:
        """Start afresh (a new conversation): drop the partial chunk and resampler state."""
        self._pending.clear()
        self._resampler = (
            None
            if self.input_rate_hz == LINK_RATE_HZ
            else soxr.ResampleStream(self.input_rate_hz, LINK_RATE_HZ, 1, dtype="int16")
        )

    def process(self, frame: AudioFrame) -> list[bytes]:
        """The complete upload chunks this frame finishes (often none or one)."""
        self.captured_bytes += len(frame.pcm)
        samples = np.frombuffer(frame.pcm, dtype="<i2")
        if self.channels > 1:
            samples = samples.reshape(-1, self.channels)[:, self.channel]
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(np.ascontiguousarray(samples))
        self._pending += samples.astype("<i2", copy=False).tobytes()
        chunks = []
        while len(self._pending) >= self.chunk_bytes:
            chunks.append(bytes(self._pending[: self.chunk_bytes]))
            del self._pending[: self.chunk_bytes]
        self.uploaded_bytes += sum(len(c) for c in chunks)
        return chunks
