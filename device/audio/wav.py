"""WAV files standing in for the microphone and the speaker (demo, tests).

`WavMic` yields a WAV file's audio as 20 ms frames, paced like a real microphone (or
faster), then a configurable tail of silence so the caller's last turn can end. A reader
that stops taking frames for a while (the daemon holds a file caller while it answers) is
not caught up afterwards: pacing goes on from where it resumed.
`WavSpeaker` keeps a simulated playback clock (real time times ``speed``; ``speed`` 0 plays
everything at once) and writes to the WAV file exactly what was played: a flush drops the
unplayed rest, as a real speaker would.
"""

from __future__ import annotations

import asyncio
import logging
import time
import wave
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from device.audio.frames import LINK_RATE_HZ, SAMPLE_BYTES, AudioFrame, pcm_bytes, pcm_ms
from device.audio.settings import FileInput, FileOutput

log = logging.getLogger(__name__)

FRAME_MS = 20
_LATE_S = 0.1  # behind the pace by more than this: the reader paused, do not catch up


class AudioFileError(Exception):
    """A WAV file cannot be used; the message is one line naming the file."""


def read_wav(path: Path) -> tuple[bytes, int, int]:
    """(pcm16 bytes, rate_hz, channels) of a WAV file, or AudioFileError."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != SAMPLE_BYTES:
                raise AudioFileError(f"{path}: must be 16-bit PCM (got {8 * w.getsampwidth()}-bit)")
            return w.readframes(w.getnframes()), w.getframerate(), w.getnchannels()
    except FileNotFoundError:
        raise AudioFileError(f"{path}: no such file") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise AudioFileError(f"{path}: not a readable WAV file ({exc})") from None


class WavMic:
    """An AudioInput reading a WAV file (see module doc)."""

    def __init__(self, settings: FileInput, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.pcm, self.rate_hz, self.channels = read_wav(settings.path)
        self._clock = clock
        self._closed = False

    @property
    def duration_ms(self) -> float:
        return pcm_ms(len(self.pcm), self.rate_hz, self.channels)

    async def frames(self) -> AsyncIterator[AudioFrame]:
        step = pcm_bytes(FRAME_MS, self.rate_hz, self.channels)
        tail = bytes(pcm_bytes(self.settings.tail_silence_ms, self.rate_hz, self.channels))
        audio = self.pcm + tail
        speed = self.settings.speed
        start = self._clock()
        for offset in range(0, len(audio), step):
            if self._closed:
                return
            t_ms = pcm_ms(offset, self.rate_hz, self.channels)
            if speed > 0:
                due = start + t_ms / 1000.0 / speed
                delay = due - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -_LATE_S:  # the reader held us up: go on at the pace from here
                    start -= delay
            else:
                await asyncio.sleep(0)  # let the rest of the daemon run
            yield AudioFrame(audio[offset : offset + step], self.rate_hz, self.channels, t_ms)

    async def close(self) -> None:
        self._closed = True


@dataclass(slots=True)
class _Segment:
    item_id: str
    pcm: bytes
    done: int = 0  # bytes played


class WavSpeaker:
    """An AudioOutput writing what it plays to a 24 kHz mono WAV file (see module doc)."""

    def __init__(self, settings: FileOutput, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        settings.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._wav = wave.open(str(settings.path), "wb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise AudioFileError(f"{settings.path}: cannot write ({exc.strerror})") from None
        self._wav.setnchannels(1)
        self._wav.setsampwidth(SAMPLE_BYTES)
        self._wav.setframerate(LINK_RATE_HZ)
        self._queue: deque[_Segment] = deque()
        self._played: dict[str, int] = {}  # item_id -> bytes played
        self._head_at = self._clock()  # when the head of the queue started playing
        self.written_bytes = 0
        self._closed = False

    def _bytes_per_s(self) -> float:
        return LINK_RATE_HZ * SAMPLE_BYTES * self.settings.speed

    def _advance(self) -> None:
        """Move what the simulated clock has played from the queue into the file."""
        now = self._clock()
        budget = (
            None if self.settings.speed == 0 else int((now - self._head_at) * self._bytes_per_s())
        )
        while self._queue:
            seg = self._queue[0]
            left = len(seg.pcm) - seg.done
            take = left if budget is None else min(left, budget - budget % SAMPLE_BYTES)
            if take > 0:
                self._wav.writeframes(seg.pcm[seg.done : seg.done + take])
                self._played[seg.item_id] = self._played.get(seg.item_id, 0) + take
                seg.done += take
            if budget is not None:
                budget -= take
                self._head_at += take / self._bytes_per_s()
            if take < left:
                return
            self._queue.popleft()
        self._head_at = now

    def write(self, item_id: str, pcm: bytes) -> None:
        if self._closed:
            return
        self._advance()
        if not self._queue:
            self._head_at = self._clock()
        self._queue.append(_Segment(item_id, pcm))
        self.written_bytes += len(pcm)
        self._advance()

    def flush(self) -> None:
        self._advance()
        self._queue.clear()

    def played_ms(self, item_id: str) -> float:
        self._advance()
        return pcm_ms(self._played.get(item_id, 0), LINK_RATE_HZ)

    def queued_ms(self) -> float:
        self._advance()
        left = sum(len(seg.pcm) - seg.done for seg in self._queue)
        return pcm_ms(left, LINK_RATE_HZ)

    async def wait_idle(self) -> None:
        while (left := self.queued_ms()) > 0:
            await asyncio.sleep(left / 1000.0 / self.settings.speed)

    async def close(self) -> None:
        if self._closed:
            return
        self._advance()
        self._closed = True
        self._wav.close()
