"""WAV files standing in for the microphone and the speaker (demo, tests).

`WavMic` yields a WAV file's audio as 20 ms frames, paced like a real microphone (or
faster), then a configurable tail of silence so the caller's last turn can end. With
``caller: turns`` a reader that stops taking frames for a while (the daemon holds a file
caller while it answers) is not caught up afterwards: pacing goes on from where it resumed.
With ``caller: timeline`` the recording runs on the wall clock whatever the reader does, as
a real caller talks over the device: late frames come at once, nothing is held back.
With ``echo_db`` (and ``hear(speaker)``) what the file speaker plays is mixed into the
frames at that level, as a speaker beside the microphone would be.
`WavSpeaker` keeps a simulated playback clock (real time times ``speed``; ``speed`` 0 plays
everything at once) and writes to the WAV file exactly what was played: a flush drops the
unplayed rest, as a real speaker would. It has no output latency: ``heard_ms`` is
``played_ms``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import wave
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.audio.frames import SAMPLE_BYTES, SPEECH_RATE_HZ, AudioFrame, pcm_bytes, pcm_ms
from device.audio.resample import StreamResampler
from device.audio.settings import FileInput, FileOutput

log = logging.getLogger(__name__)

FRAME_MS = 20
_LATE_S = 0.1  # behind the pace by more than this: the reader paused, do not catch up
_ECHO_BACKLOG_MS = 60  # played audio not yet mixed into the mic beyond this is dropped


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

    def __init__(
        self,
        settings: FileInput,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.pcm, self.rate_hz, self.channels = read_wav(settings.path)
        self._clock = clock
        self._sleep = sleep
        self._closed = False
        self._echo: EchoTap | None = None
        self.overflows = 0  # a file never falls behind (the AudioInput counter)

    def hear(self, speaker: WavSpeaker) -> None:
        """Mix what ``speaker`` plays into the frames at ``echo_db`` (nothing if it is null)."""
        if self.settings.echo_db is not None:
            self._echo = EchoTap(speaker, self.rate_hz, self.settings.echo_db)

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
                    await self._sleep(delay)
                elif delay < -_LATE_S and self.settings.caller == "turns":
                    start -= delay  # the reader held us up: go on at the pace from here
            else:
                await asyncio.sleep(0)  # let the rest of the daemon run
            pcm = audio[offset : offset + step]
            if self._echo is not None:
                pcm = self._echo.mix(pcm, self.channels)
            yield AudioFrame(pcm, self.rate_hz, self.channels, t_ms)

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
        try:
            settings.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(settings.path, "wb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise AudioFileError(f"{settings.path}: cannot write ({exc.strerror or exc})") from None
        # wave.open on our own file object: a failed open leaves no half-made Wave_write
        # whose __del__ would print a traceback
        self._wav = wave.open(self._file, "wb")  # noqa: SIM115 - closed in close()
        self._wav.setnchannels(1)
        self._wav.setsampwidth(SAMPLE_BYTES)
        self._wav.setframerate(SPEECH_RATE_HZ)
        self.underflows = 0  # a file never runs dry (the AudioOutput counter)
        self._queue: deque[_Segment] = deque()
        self._played: dict[str, int] = {}  # item_id -> bytes played
        self._received: dict[str, int] = {}  # item_id -> bytes written
        self._taps: list[Callable[[bytes], None]] = []  # EchoTap feeds
        # reference tap (echo mode reference): (mono int16, 24000, clock s it starts playing)
        self.on_played: Callable[[np.ndarray, int, float], None] | None = None
        self._head_at = self._clock()  # when the head of the queue started playing
        self._held_until: float | None = None  # clock time a hold ends by itself
        self._lock = threading.RLock()  # hold()/resume() come from the VAD's thread
        self.written_bytes = 0
        self._closed = False

    def _bytes_per_s(self) -> float:
        return SPEECH_RATE_HZ * SAMPLE_BYTES * self.settings.speed

    def _advance(self) -> None:
        """Move what the simulated clock has played from the queue into the file."""
        with self._lock:
            self._advance_locked()

    def _advance_locked(self) -> None:
        now = self._clock()
        if self._held_until is not None:
            if now < self._held_until:
                return  # held: nothing plays, the head waits
            self._head_at = max(self._head_at, self._held_until)
            self._held_until = None
        budget = (
            None if self.settings.speed == 0 else int((now - self._head_at) * self._bytes_per_s())
        )
        while self._queue:
            seg = self._queue[0]
            left = len(seg.pcm) - seg.done
            take = left if budget is None else min(left, budget - budget % SAMPLE_BYTES)
            if take > 0:
                played = seg.pcm[seg.done : seg.done + take]
                self._wav.writeframes(played)
                for tap in self._taps:
                    tap(played)
                if self.on_played is not None:
                    self.on_played(
                        np.frombuffer(played, dtype="<i2"), SPEECH_RATE_HZ, self._head_at
                    )
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
        with self._lock:
            self._advance_locked()
            if not self._queue:
                self._head_at = self._clock()
            self._queue.append(_Segment(item_id, pcm))
            self.written_bytes += len(pcm)
            self._received[item_id] = self._received.get(item_id, 0) + len(pcm)
            self._advance_locked()

    def flush(self) -> None:
        with self._lock:
            self._advance_locked()
            self._queue.clear()
            self._held_until = None

    def hold(self, max_ms: float) -> None:
        """Pause for at most ``max_ms`` of playback time (see PyAudioSpeaker.hold; any
        thread)."""
        if self.settings.speed == 0 or max_ms <= 0:
            return
        with self._lock:
            self._advance_locked()
            until = self._clock() + max_ms / 1000.0 / self.settings.speed
            self._held_until = max(until, self._held_until or until)

    def resume(self) -> None:
        """End a hold now: playback goes on where it paused (any thread)."""
        with self._lock:
            if self._held_until is None:
                return
            now = self._clock()
            if now < self._held_until:
                self._head_at = max(self._head_at, now)
                self._held_until = None
            self._advance_locked()

    def played_ms(self, item_id: str) -> float:
        self._advance()
        return pcm_ms(self._played.get(item_id, 0), SPEECH_RATE_HZ)

    def heard_ms(self, item_id: str) -> float:
        """Ms of the item played (a file has no output latency: ``played_ms``)."""
        return self.played_ms(item_id)

    def received_ms(self, item_id: str) -> float:
        """Ms of the item written to the speaker."""
        return pcm_ms(self._received.get(item_id, 0), SPEECH_RATE_HZ)

    def forget(self, keep: set[str] | None = None) -> None:
        """Drop the clocks of items not in ``keep`` (a new conversation)."""
        keep = keep or set()
        for clock in (self._played, self._received):
            for item in [i for i in clock if i not in keep]:
                del clock[item]

    def queued_ms(self) -> float:
        self._advance()
        left = sum(len(seg.pcm) - seg.done for seg in self._queue)
        return pcm_ms(left, SPEECH_RATE_HZ)

    async def wait_idle(self) -> None:
        while (left := self.queued_ms()) > 0:
            await asyncio.sleep(left / 1000.0 / self.settings.speed)

    async def close(self) -> None:
        if self._closed:
            return
        self._advance()
        self._closed = True
        self._wav.close()
        self._file.close()


class EchoTap:
    """What a WavSpeaker plays, for a WavMic to mix in at ``echo_db`` (resampled to its rate).

    Each ``mix`` takes as much played audio as the frame lasts (silence if the speaker played
    less); more than ``_ECHO_BACKLOG_MS`` unread is dropped, so the echo stays in time.
    """

    def __init__(self, speaker: WavSpeaker, rate_hz: int, echo_db: float) -> None:
        self.speaker = speaker
        self.gain = 10.0 ** (echo_db / 20.0)
        self._pending = bytearray()
        self._resampler = StreamResampler(SPEECH_RATE_HZ, rate_hz)
        self._out = np.zeros(0, dtype=np.float32)
        speaker._taps.append(self._pending.extend)

    def mix(self, pcm: bytes, channels: int) -> bytes:
        self.speaker.queued_ms()  # advance the speaker's clock to now
        n = len(pcm) // SAMPLE_BYTES // channels
        want = -(-n * SPEECH_RATE_HZ // self._resampler.out_rate_hz) * SAMPLE_BYTES
        backlog = pcm_bytes(_ECHO_BACKLOG_MS, SPEECH_RATE_HZ)
        if len(self._pending) > backlog + want:
            del self._pending[: len(self._pending) - backlog - want]
        took = bytes(self._pending[:want])
        del self._pending[:want]
        played = np.frombuffer(took + bytes(want - len(took)), dtype="<i2")
        self._out = np.concatenate([self._out, self._resampler.process(played).astype(np.float32)])
        echo, self._out = self._out[:n], self._out[n:]
        echo = np.pad(echo, (0, n - len(echo)))
        frame = np.frombuffer(pcm, dtype="<i2").reshape(n, channels).astype(np.float32)
        mixed = frame + (self.gain * echo)[:, None]
        return np.clip(mixed, -32768, 32767).astype("<i2").tobytes()
