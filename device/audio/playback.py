"""The jitter buffer and playback clock of the speaker (pure; the device clock drives it).

The writer queues mono PCM16 at the device rate, per item. The sound card's callback calls
``pull(n, dac_s)`` for exactly ``n`` samples each period; it gets queued audio, padded with
silence. ``played_ms(item_id)`` counts what was handed to the card, exact to the sample.

The playback clock barge-in truncation needs is ``heard_ms(item_id, now_s)``: what has
really reached the speaker by ``now_s``. Each pull records when its first sample reaches
the DAC (``dac_s``, the card's own latency report, on the clock ``now_s`` is read from), so
audio still inside the card's buffer does not count yet, and audio still in the jitter
buffer never does. After ``flush()`` nothing more is handed out and what the card already
holds cannot be taken back: ``heard_ms`` then answers at once with what the caller will
have heard when the sound stops (all that was handed out), the truncation point.

- Prebuffer: after the buffer ran dry, playback restarts once ``prebuffer_ms`` is queued,
  or once audio has waited ``prebuffer_ms`` of device time (a short reply's tail still
  plays, no later than the prebuffer).
- ``flush()`` drops everything queued; the next ``pull`` is silence.
- ``hold(max_samples)`` pauses: pulls give silence while the queue and the clock stay as
  they are (what was handed out before counts as heard, as after a flush), for at most
  ``max_samples`` of device time; then, or on ``resume()``, playback goes on where it
  paused. A ``flush()`` ends a hold too (a barge-in confirmed). ``holds`` counts holds,
  ``holds_resumed`` those that ended with audio still to play (a pause the caller heard).

Not thread-safe by itself: the adapter holds a lock around every call.

Example::

    buf = PlaybackBuffer(48000, prebuffer_ms=40)
    buf.write("item_1", pcm_48k)
    out = buf.pull(480, dac_s)   # in the audio callback, every 10 ms
    buf.heard_ms("item_1", now_s)
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


@dataclass(slots=True)
class _InFlight:
    """Samples of one item handed to the card, reaching the DAC from ``dac_s`` on."""

    item_id: str
    dac_s: float
    samples: int


class PlaybackBuffer:
    """See the module docstring."""

    def __init__(self, rate_hz: int, prebuffer_ms: float) -> None:
        self.rate_hz = rate_hz
        self.prebuffer_samples = int(rate_hz * prebuffer_ms / 1000.0)
        self._queue: deque[_Segment] = deque()
        self._queued = 0  # samples
        self._played: dict[str, int] = {}  # item_id -> samples handed out
        self._heard: dict[str, int] = {}  # item_id -> samples surely out of the speaker
        self._in_flight: deque[_InFlight] = deque()  # handed out, maybe not yet heard
        self._playing = False
        self._waited = 0  # samples of silence pulled while audio waited for the prebuffer
        self._held = 0  # samples of device time the hold still lasts (0: not held)
        self.underruns = 0
        self.flushes = 0
        self.holds = 0
        self.holds_resumed = 0

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
        self._held = 0
        self.flushes += 1
        self._settle(None)  # what the card holds will play: it counts as heard
        return dropped

    def hold(self, max_samples: int) -> None:
        """Pause for at most ``max_samples`` of device time (a hold on: extended, never
        shortened); see the module docstring."""
        if max_samples <= 0:
            return
        if self._held == 0:
            self.holds += 1
        self._held = max(self._held, max_samples)

    def resume(self) -> None:
        """End a hold now: the next pull goes on where playback paused."""
        if self._held:
            self._end_hold()

    def _end_hold(self) -> None:
        self._held = 0
        if self._queued:
            self.holds_resumed += 1

    @property
    def is_held(self) -> bool:
        return self._held > 0

    # -- clock ----------------------------------------------------------------------------

    def played_ms(self, item_id: str) -> float:
        return self._played.get(item_id, 0) * 1000.0 / self.rate_hz

    def heard_ms(self, item_id: str, now_s: float) -> float:
        """Ms of the item out of the speaker by ``now_s`` (see the module docstring)."""
        self._settle(now_s)
        samples = self._heard.get(item_id, 0)
        for chunk in self._in_flight:
            if chunk.item_id == item_id and chunk.dac_s < now_s:
                samples += min(chunk.samples, int((now_s - chunk.dac_s) * self.rate_hz))
        return samples * 1000.0 / self.rate_hz

    def in_flight_ms(self, now_s: float) -> float:
        """Ms handed to the card that have not reached the speaker by ``now_s``."""
        self._settle(now_s)
        left = 0.0
        for chunk in self._in_flight:
            left += chunk.samples - min(
                chunk.samples, max(0, int((now_s - chunk.dac_s) * self.rate_hz))
            )
        return left * 1000.0 / self.rate_hz

    def _settle(self, now_s: float | None) -> None:
        """Move chunks fully out of the speaker by ``now_s`` (None: all) to ``_heard``."""
        while self._in_flight:
            chunk = self._in_flight[0]
            if now_s is not None and chunk.dac_s + chunk.samples / self.rate_hz > now_s:
                return
            self._heard[chunk.item_id] = self._heard.get(chunk.item_id, 0) + chunk.samples
            self._in_flight.popleft()

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
            self._heard.pop(item, None)

    # -- device side ----------------------------------------------------------------------

    def pull(self, n: int, dac_s: float | None = None) -> bytes:
        """Exactly ``n`` samples for the device: queued audio, then silence.

        ``dac_s``: when the first of them reaches the speaker (None: at once, as heard).
        """
        if self._held:
            self._held = max(0, self._held - n)
            if not self._held:
                self._end_hold()  # the hold ran out: the next pull plays on
            return bytes(n * SAMPLE_BYTES)
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
            at_s = (
                None
                if dac_s is None
                else dac_s + (len(out) // SAMPLE_BYTES - samples) / self.rate_hz
            )
            if at_s is None:
                self._heard[seg.item_id] = self._heard.get(seg.item_id, 0) + samples
            else:
                self._in_flight.append(_InFlight(seg.item_id, at_s, samples))
            self._queued -= samples
            if seg.done >= len(seg.pcm):
                self._queue.popleft()
        if len(out) < want:
            self._playing = False
            self.underruns += 1
            out += bytes(want - len(out))
        return bytes(out)
