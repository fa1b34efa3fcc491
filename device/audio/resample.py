"""Channel pick and streaming resampling of PCM16 audio (pure; soxr does the work).

A ``StreamResampler`` keeps the filter state across blocks, so a stream cut into frames
resamples exactly like the whole stream at once: no clicks at frame edges. Its output lags
its input by the filter delay (a few ms); ``flush()`` hands out that tail at the end of a
stream and starts afresh.

Example::

    to_16k = StreamResampler(48000, 16000)
    out = to_16k.process(pick_channel(frame.pcm, channels=4, channel=0))   # int16 array
    tail = to_16k.flush()
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

Samples = npt.NDArray[np.int16]
PCM16 = np.dtype("<i2")


def pick_channel(pcm: bytes, channels: int, channel: int) -> Samples:
    """Mono int16 samples of one ``channel`` of interleaved PCM16 ``pcm``.

    Mono input: a read-only view of ``pcm`` (no copy); otherwise a new contiguous array.
    """
    samples = np.frombuffer(pcm, dtype=PCM16)
    if channels == 1:
        return samples
    usable = len(samples) - len(samples) % channels
    return np.ascontiguousarray(samples[:usable].reshape(-1, channels)[:, channel])


class StreamResampler:
    """Mono int16 at ``in_rate_hz`` to mono int16 at ``out_rate_hz``, block by block."""

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
        """Drop the filter state (and any tail not yet handed out)."""
        self._stream = (
            None
            if self.passthrough
            else soxr.ResampleStream(
                self.in_rate_hz, self.out_rate_hz, 1, dtype="int16", quality=self.quality
            )
        )

    def process(self, samples: Samples) -> Samples:
        """The resampled samples this block makes available (may be fewer than expected)."""
        if self._stream is None:
            return samples
        out: Samples = self._stream.resample_chunk(np.ascontiguousarray(samples, dtype=np.int16))
        return out

    def flush(self) -> Samples:
        """The tail still inside the filter; the next ``process`` starts a new stream."""
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        out: Samples = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self.reset()
        return out
