"""The jitter buffer and playback clock of the speaker (pure; the device clock drives it).

The writer queues mono PCM16 at the device rate, per item. The sound card's callback calls
``pull(n)`` for exactly ``n`` samples each period; it gets queued audio, padded with silence.
What ``pull`` hands out is what was played, so ``played_ms(item_id)`` is exact to the
sample (the playback clock barge-in truncation needs).

- Prebuffer: after the buffer ran dry, playback restarts once ``prebuffer_ms`` is queued,
  or once audio has waited ``prebuffer_ms`` of device time (a short reply's tail still
  plays, no later than the prebuffer).
- ``flush()`` drops everything queued; the next ``pull`` is silence.

Not thread-safe by itself: the adapter holds a lock around every call.

Example::

    buf = PlaybackBuffer(48000, prebuffer_ms=40)
    buf.write("item_1", pcm_48k)
    out = buf.pull(480)          # in the audio callback, every 10 ms
    buf.played_ms("item_1")
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from device.audio.frames import SAMPLE_BYTES


@dataclass(slots=True)
class _Segment:
    item_id: str
    pcm: bytes
    done: int = 0  # bytes handed out


class PlaybackBuffer:
    """See the module docstring."""

    def __init__(self, rate_hz: int, prebuffer_ms: float) -> None:
        self.rate_hz = rate_hz
        self.prebuffer_samples = int(rate_hz * prebuffer_ms / 1000.0)
        self._queue: deque[_Segment] = deque()
        self._queued = 0  # samples
        self._played: dict[str, int] = {}  # item_id -> samples handed out
        self._playing = False
        self._waited = 0  # samples of silence pulled while audio waited for the prebuffer
        self.underruns = 0
        self.flushes = 0

    # -- writer side ----------------------------------------------------------------------

    def write(self, item_id: str, pcm: bytes) -> None:
        if not pcm:
            return
        pcm = pcm[: len(pcm) - len(pcm) % SAMPLE_BYTES]
        self._queue.append(_Segment(item_id, pcm))
        self._queued += len(pcm) // SAMPLE_BYTES

    def flush(self) -> int:
        """Drop everything queued; returns the samples dropped."""
        dropped = self._queued
        self._queue.clear()
        self._queued = 0
        self._playing = False
        self._waited = 0
        self.flushes += 1
        return dropped

    # -- clock ----------------------------------------------------------------------------

    def played_ms(self, item_id: str) -> float:
        return self._played.get(item_id, 0) * 1000.0 / self.rate_hz

    def queued_ms(self) -> float:
        return self._queued * 1000.0 / self.rate_hz

    @property
    def queued_samples(self) -> int:
        return self._queued

    @property
    def is_playing(self) -> bool:
        return self._playing

    def forget(self, keep: set[str] | None = None) -> None:
        """Drop the clock of items not in ``keep`` (bounded memory over a long day)."""
        keep = keep or set()
        for item in [i for i in self._played if i not in keep]:
            del self._played[item]

    # -- device side ----------------------------------------------------------------------

    def pull(self, n: int) -> bytes:
        """Exactly ``n`` samples for the device: queued audio, then silence."""
        if not self._playing:
            if self._queued == 0:
                self._waited = 0
                return bytes(n * SAMPLE_BYTES)
            if self._queued < self.prebuffer_samples and self._waited < self.prebuffer_samples:
                self._waited += n
                return bytes(n * SAMPLE_BYTES)
            self._playing = True
            self._waited = 0
        out = bytearray()
        want = n * SAMPLE_BYTES
        while self._queue and len(out) < want:
            seg = self._queue[0]
            take = min(want - len(out), len(seg.pcm) - seg.done)
            out += seg.pcm[seg.done : seg.done + take]
            seg.done += take
            samples = take // SAMPLE_BYTES
            self._played[seg.item_id] = self._played.get(seg.item_id, 0) + samples
            self._queued -= samples
            if seg.done >= len(seg.pcm):
                self._queue.popleft()
        if len(out) < want:
            self._playing = False
            self.underruns += 1
            out += bytes(want - len(out))
        return bytes(out)
