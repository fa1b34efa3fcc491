"""The wake listener: 16 kHz frames in from the event loop, detections out (thread adapter).

The capture pipeline calls ``consumer(samples)`` with each frame's 16 kHz int16 samples;
it only queues them (never blocks: when the worker falls behind, the oldest frame is
dropped and counted, and the detector is told how many samples it missed so positions
stay aligned with the capture stream). One worker thread runs the detector and calls
``on_wake(model_name, score, end_sample)`` from that thread: the caller makes it
thread-safe (``loop.call_soon_threadsafe``).

``end_sample`` counts 16 kHz samples since the listener started, i.e. since the first
sample ever given to ``consumer``: the phrase ended about there, so the audio to upload
after a wake starts at that position.

Example::

    listener = WakeListener(detector, lambda m, s, end: loop.call_soon_threadsafe(...))
    listener.start()
    pipeline_fanout.append(listener.consumer)
    ...
    listener.close()
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from device.wake.detector import FRAME_SAMPLES, WakeDetector

log = logging.getLogger(__name__)

OnWake = Callable[[str, float, int], None]


class WakeListener:
    """See the module docstring. ``on_error(exc)`` hears a detector failure (the worker
    then stops); counters: ``frames_in``, ``dropped_frames``, ``detections``."""

    def __init__(
        self,
        detector: WakeDetector,
        on_wake: OnWake,
        *,
        queue_frames: int = 50,
        on_error: Callable[[BaseException], None] | None = None,
        on_scores: Callable[[dict[str, float], int], None] | None = None,
    ) -> None:
        self.detector = detector
        self.on_wake = on_wake
        self.on_error = on_error
        self.on_scores = on_scores  # every processed chunk, from the worker (doctor, tests)
        self.queue_frames = max(1, queue_frames)
        self._queue: deque[npt.NDArray[np.int16]] = deque()
        self._gap_samples = 0
        self._queued_samples = 0
        self._flush = False
        self._cond = threading.Condition()
        self._stop = False
        self._busy = False
        self._thread: threading.Thread | None = None
        self.frames_in = 0
        self.dropped_frames = 0
        self.detections = 0
        self.error: BaseException | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="wake-worker", daemon=True)
        self._thread.start()

    def consumer(self, samples: npt.NDArray[np.int16]) -> None:
        """Queue one frame's samples; returns at once (see the module docstring).

        The worker is woken once a whole 80 ms frame is queued (the detector can do nothing
        with less), so 20 ms capture frames cost one thread switch per four; and at each
        frame while the detector wants an early look (``WakeDetector.wants_early_look``).
        """
        with self._cond:
            self.frames_in += 1
            if len(self._queue) >= self.queue_frames:
                dropped = self._queue.popleft()
                self._queued_samples -= len(dropped)
                self._gap_samples += len(dropped)
                self.dropped_frames += 1
            self._queue.append(samples)
            self._queued_samples += len(samples)
            if self._queued_samples >= FRAME_SAMPLES or self.detector.wants_early_look:
                self._cond.notify()

    def wants_early_look(self) -> bool:
        """The detector's wish (the capture pipeline's batch veto: see its docstring)."""
        return self.detector.wants_early_look

    def models_idle(self) -> bool:
        """Whether the detector skipped its models on the latest frame (a quiet room: the
        capture pipeline's batch stretch); False for a detector that does not say."""
        return getattr(self.detector, "running", True) is False

    def wait_idle(self, timeout_s: float) -> bool:
        """Process everything queued, even a partial frame, and wait until done (tests,
        doctor); False on timeout."""
        with self._cond:
            self._flush = True
            self._cond.notify_all()
            return self._cond.wait_for(
                lambda: (not self._queue and not self._busy) or self._stop, timeout_s
            )

    def close(self, timeout_s: float = 2.0) -> bool:
        """Stop the worker (what is queued is dropped); False if it did not stop in time."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    def _ready(self) -> bool:
        return (
            self._stop
            or self._queued_samples >= FRAME_SAMPLES
            or ((self._flush or self.detector.wants_early_look) and bool(self._queue))
        )

    def _run(self) -> None:
        while True:
            with self._cond:
                self._busy = False
                if not self._queue:
                    self._flush = False
                self._cond.notify_all()
                self._cond.wait_for(self._ready)
                if self._stop:
                    return
                items = list(self._queue)
                self._queue.clear()
                self._queued_samples = 0
                gap, self._gap_samples = self._gap_samples, 0
                self._busy = True
            samples = items[0] if len(items) == 1 else np.concatenate(items)
            try:
                if gap:
                    self.detector.skip(gap)
                found = self.detector.process(samples)
                if self.on_scores is not None:
                    self.on_scores(dict(self.detector.last_scores), self.detector.position)
                for d in found:
                    self.detections += 1
                    self.on_wake(d.model, d.score, d.end_sample)
            except Exception as exc:  # reported, never swallowed: the worker stops
                self.error = exc
                log.error("wake word: the detector failed: %s", exc)
                with self._cond:
                    self._stop = True
                    self._busy = False
                    self._cond.notify_all()
                if self.on_error is not None:
                    self.on_error(exc)
                return
