"""The local speech detector as a thread: 16 kHz frames in, ``on_speech(start_sample)`` out.

The capture pipeline calls ``consumer(samples)`` on the event loop thread with every
16 kHz int16 frame; it returns at once (a counter, and a put into a bounded queue while
active: when the worker falls behind, frames are dropped and counted in ``dropped``).
The worker thread runs Silero (one onnxruntime thread) and the ``SpeechDetector``, and calls
``on_speech(start_sample)`` from that thread when the caller starts speaking: the caller
of this class makes that callback thread-safe (``loop.call_soon_threadsafe``).

Detection runs only between ``start()`` and ``stop()`` (the daemon calls them when the
device starts and stops speaking, or plays a prompt while listening); each ``start()``
begins a fresh stream. ``start(from_sample=n)`` begins it back at mic sample ``n`` (the
last ``LOOKBACK_S`` are kept while idle): a caller already talking when a prompt starts
(the words right after a wake phrase) is judged from before the prompt's echo.
``start(playback=speaker)`` also lets the worker pause the reply on a suspicion (the
detector's ``SpeechSuspected``: a window that looks like speech by ``hold_threshold``):
``playback.hold(max_ms)`` at once from the worker thread, ``playback.resume()`` when the
suspicion clears, and the barge-in (``on_speech``) when it is confirmed, whose flush ends
the hold (after which this stream pauses nothing more). The speaker bounds the hold by
itself (``hold_ms`` plus ``HOLD_SLACK_MS``), so a stalled worker cannot leave a reply
paused (a suspicion renewed, see the detector's onset pause, holds again: the speaker
extends a hold on, never shortens it). ``holds`` counts suspicions, ``holds_resumed``
those that cleared unconfirmed (the reply paused and went on: a hiccup), with or without
a playback to pause; with one, ``on_pause(pause_ms, expired)`` reports each such pause
from the worker thread (made thread-safe by its caller, as ``on_speech``). In
``half_duplex`` mode ``start()`` does nothing: no voice barge-in while the device speaks.
In ``reference`` mode (and ``software`` with a ``raw_input``: ``EchoSettings.judged_mode``)
the speaker reports what it plays through ``reference(samples, rate_hz, play_at_s)`` (any
thread; ``play_at_s`` on ``time.monotonic``'s clock), and the detector needs the mic
clearly above the echo of it (device/vad/echo.py).

Example::

    vad = VadListener(settings.audio.barge_in, settings.audio.echo, on_speech=interrupt)
    speaker.on_played = vad.reference
    pipeline.consumers.append(vad.consumer)
    vad.start()            # the device speaks
    vad.stop()             # it listens again
    vad.sync()             # (tests) every frame queued so far has been judged
    vad.close()
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from device.audio.resample import StreamResampler
from device.vad.detector import (
    ONSET_BLOCK,
    SpeechDetector,
    SpeechStarted,
    SpeechSuspected,
    SuspicionCleared,
)
from device.vad.echo import EchoReference
from device.vad.settings import BargeInSettings, EchoSettings
from device.vad.silero import RATE_HZ, WINDOW_SAMPLES, SileroModel

log = logging.getLogger(__name__)

# The mic clock is known only up to its own capture latency (frames arrive a little after
# they were heard), so the echo can show up in the mic index before the reference would
# place it: the reference is laid this much early, and the delay search starts from there.
REFERENCE_LEAD_MS = 100
# The detector sees a window some ms after the speaker paused for it (the capture path):
# the speaker's own bound on a hold is this much longer than the detector's hold_ms.
HOLD_SLACK_MS = 64
LOOKBACK_S = 1.0
"""The mic audio kept while idle, for ``start(from_sample=...)``."""


class Pausable(Protocol):
    """A speaker the worker can pause (PyAudioSpeaker, WavSpeaker): both thread-safe."""

    def hold(self, max_ms: float) -> None: ...

    def resume(self) -> None: ...


class VadListener:
    """See the module docstring."""

    def __init__(
        self,
        barge_in: BargeInSettings,
        echo: EchoSettings,
        on_speech: Callable[[int], None],
        *,
        model: SileroModel | None = None,
        queue_items: int = 64,
        clock: Callable[[], float] = time.monotonic,
        on_pause: Callable[[float, bool], None] | None = None,
    ) -> None:
        self.barge_in = barge_in
        self.mode = echo.judged_mode
        self.on_speech = on_speech
        self.on_pause = on_pause
        self._clock = clock
        self._model = model if model is not None else SileroModel()
        self.echo = (
            EchoReference(max_delay_ms=echo.max_delay_ms + REFERENCE_LEAD_MS)
            if self.mode == "reference"
            else None
        )
        self.detector = SpeechDetector(
            self._model.probability,
            barge_in,
            echo=self.echo,
            margin_db=echo.margin_db,
            reset=self._model.reset,
            echo_mode=self.mode,
        )
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(queue_items)
        self._mic_index = 0  # samples given to consumer() so far
        self._recent: deque[tuple[np.ndarray, int]] = deque()  # idle: the last LOOKBACK_S
        self._recent_samples = 0
        self._origin: float | None = None  # clock time of mic sample 0 (earliest arrival)
        self._active = False
        self._closed = False
        self._resampler: StreamResampler | None = None
        self._ref_next: int | None = None  # where the next reference sample goes
        self.dropped = 0
        self.detections = 0
        self.holds = 0  # suspicions (the reply paused, if a playback was given)
        self.holds_resumed = 0  # suspicions that cleared unconfirmed (a hiccup)
        self.longest_hiccup_ms = 0.0  # the longest of those pauses
        self._suspected_at = 0  # sample the current suspicion began at
        self._interrupted = False  # this stream has reported speech (worker thread)
        self.cpu_s = 0.0  # worker thread CPU time
        self.audio_s = 0.0  # mic audio the worker analysed
        self._thread = threading.Thread(target=self._work, name="local-vad", daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        return self._active

    # -- producers (event loop thread, audio thread) --------------------------------------

    def consumer(self, samples: np.ndarray) -> None:
        """One 16 kHz int16 frame from the capture pipeline; returns at once."""
        index = self._mic_index
        self._mic_index += len(samples)
        origin = self._clock() - self._mic_index / RATE_HZ  # the frame's end arrived now
        if self._origin is None or origin < self._origin:
            self._origin = origin
        if self._active:
            self._put(("mic", samples, index))
            return
        recent = self._recent
        recent.append((samples, index))
        self._recent_samples += len(samples)
        while self._recent_samples - len(recent[0][0]) >= LOOKBACK_S * RATE_HZ:
            self._recent_samples -= len(recent.popleft()[0])

    def reference(self, samples: np.ndarray, rate_hz: int, play_at_s: float) -> None:
        """Audio the speaker plays from ``play_at_s`` on (reference mode; any thread)."""
        origin = self._origin
        if self.echo is None or origin is None or self._closed:
            return
        at = round((play_at_s - origin - REFERENCE_LEAD_MS / 1000.0) * RATE_HZ)
        self._put(("ref", samples, rate_hz, at))

    def _put(self, item: tuple[Any, ...]) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def start(self, playback: Pausable | None = None, from_sample: int | None = None) -> None:
        """The device starts speaking: detect from the next frame on (not in half_duplex);
        ``playback``: the speaker to pause on a suspicion (None: no pauses);
        ``from_sample``: begin back at that mic sample instead (counted as ``consumer``
        counts; frames kept while idle, at most ``LOOKBACK_S``: whole frames, from the
        first one ending after it)."""
        if self.mode == "half_duplex" or self._active or self._closed:
            return
        self._active = True
        replay = (
            [(s, i) for s, i in self._recent if i + len(s) > from_sample]
            if from_sample is not None
            else []
        )
        self._recent.clear()
        self._recent_samples = 0
        self._put(("start", replay[0][1] if replay else self._mic_index, playback))
        for samples, index in replay:
            self._put(("mic", samples, index))

    def stop(self) -> None:
        """The device stopped speaking: no more detection until ``start()``."""
        if not self._active:
            return
        self._active = False
        self._recent.clear()
        self._recent_samples = 0
        self._put(("stop",))

    def sync(self, timeout_s: float = 5.0) -> bool:
        """Block until the worker has handled everything queued before this call (so every
        detection of those frames has been reported); False if it did not within
        ``timeout_s`` (a worker that far behind is a finding in itself)."""
        done = threading.Event()
        try:
            self._queue.put(("sync", done), timeout=timeout_s)
        except queue.Full:
            return False
        return done.wait(timeout_s)

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the worker (idempotent); waits up to ``timeout_s`` for it."""
        if self._closed:
            return
        self._closed = True
        self._active = False
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            log.warning("local VAD: the worker did not take the stop request")
        self._thread.join(timeout_s)

    # -- the worker -----------------------------------------------------------------------

    def _reference(self, samples: np.ndarray, rate_hz: int, at_sample: int) -> None:
        """Resample the playback as one stream and lay it end to end on the mic clock.

        Each chunk's own time (from the callback's clock) jitters by a few ms: it only
        re-anchors the stream after a gap or a jump of more than 50 ms.
        """
        assert self.echo is not None
        if self._resampler is None or self._resampler.in_rate_hz != rate_hz:
            self._resampler = StreamResampler(rate_hz, RATE_HZ)
        if self._ref_next is None or abs(at_sample - self._ref_next) > RATE_HZ // 20:
            self._ref_next = at_sample
        out = self._resampler.process(samples)
        self.echo.add_played(out, self._ref_next)
        self._ref_next += len(out)

    def _decide(self, samples: np.ndarray, playback: Pausable | None) -> None:
        """Feed one frame to the detector and act on its decisions."""
        for decision in self.detector.feed(samples):
            match decision:
                case SpeechSuspected(start_sample, onset, renewed):
                    if not renewed:  # (renewed: the same pause, hold_ms from now)
                        self.holds += 1
                        self._suspected_at = start_sample + (
                            ONSET_BLOCK if onset else WINDOW_SAMPLES
                        )
                    if playback is not None and not self._interrupted:
                        playback.hold(self.barge_in.hold_ms + HOLD_SLACK_MS)
                case SuspicionCleared(end_sample, expired):
                    self.holds_resumed += 1
                    pause_ms = (end_sample - self._suspected_at) * 1000.0 / RATE_HZ
                    self.longest_hiccup_ms = max(self.longest_hiccup_ms, pause_ms)
                    if playback is not None:
                        playback.resume()
                        if self.on_pause is not None and not self._interrupted:
                            self.on_pause(pause_ms, expired)
                case SpeechStarted(start_sample):
                    self.detections += 1
                    # interrupted: no more pauses in this stream (its flush ended this one;
                    # a later one would only delay the next reply)
                    self._interrupted = True
                    self.on_speech(start_sample)

    def _work(self) -> None:
        running = False
        expected = 0  # the mic index the detector expects next
        playback: Pausable | None = None
        while True:
            item = self._queue.get()
            if item is None:
                return
            started = time.thread_time()
            try:
                match item:
                    case ("start", index, pausable):
                        running, expected, playback = True, index, pausable
                        self._interrupted = False
                        self._model.reset()
                        self.detector.reset(index)
                    case ("stop",):
                        running = False
                        if self.detector.suspected and playback is not None:
                            playback.resume()  # the device stopped speaking for its own reasons
                        playback = None
                    case ("sync", done):
                        done.set()
                    case ("mic", samples, index) if running:
                        if index != expected:  # frames were dropped: a new stream from here
                            if self.detector.suspected and playback is not None:
                                playback.resume()
                            self._model.reset()
                            self.detector.reset(index)
                        expected = index + len(samples)
                        if self.echo is not None:
                            self.echo.add_mic(samples, index)
                        self.audio_s += len(samples) / RATE_HZ
                        self._decide(samples, playback)
                    case ("ref", samples, rate_hz, at_sample) if self.echo is not None:
                        self._reference(samples, rate_hz, at_sample)
            except Exception:  # a detector bug must not end detection for the day
                log.exception("local VAD failed on a frame")
            finally:
                self.cpu_s += time.thread_time() - started
