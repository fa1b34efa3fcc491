"""The threaded wake listener: the consumer never blocks, the worker reports detections."""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.wake.detector import Detection
from device.wake.listener import WakeListener
from device.wake.models import ResolvedModels
from tests.helpers import make_detector
from tools.make_wake_audio import read_wav


def test_a_phrase_through_the_listener_calls_on_wake_from_the_worker(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]]
) -> None:
    folder, manifest = corpus
    clip = next(c for c in manifest["positives"] if c["condition"] == "clean")
    samples = read_wav(folder / clip["file"])
    woke: queue.Queue[tuple[str, float, int, str]] = queue.Queue()
    listener = WakeListener(
        make_detector(resolved),
        lambda m, s, end: woke.put((m, s, end, threading.current_thread().name)),
        queue_frames=1000,
    )
    listener.start()
    try:
        for i in range(0, samples.size, 320):
            listener.consumer(samples[i : i + 320])
        model, score, end, thread = woke.get(timeout=20)
        assert listener.wait_idle(20)
    finally:
        assert listener.close()
    assert (model, thread) == ("hey_jarvis", "wake-worker")
    assert score >= 0.5
    assert clip["phrase_start_sample"] < end <= clip["phrase_end_sample"] + 1280
    assert listener.dropped_frames == 0 and woke.empty()


def test_the_listener_says_when_the_models_are_idle_in_a_quiet_room(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]]
) -> None:
    """What the capture pipeline stretches its idle batches by: quiet room, idle; a voice,
    the models run (and a detector that cannot say is never taken for idle)."""
    folder, manifest = corpus
    clip = next(c for c in manifest["positives"] if c["condition"] == "clean")
    phrase = read_wav(folder / clip["file"])
    listener = WakeListener(make_detector(resolved), lambda *a: None, queue_frames=1000)
    listener.start()
    try:
        listener.consumer(np.zeros(16000 * 2, dtype=np.int16))
        assert listener.wait_idle(20) and listener.models_idle()
        listener.consumer(phrase[: phrase.size // 2])
        assert listener.wait_idle(20) and not listener.models_idle()
    finally:
        assert listener.close()
    assert not WakeListener(SlowDetector(), lambda *a: None).models_idle()


class SlowDetector:
    """Blocks in process() until released: the worker falls behind on purpose."""

    model_names = ("slow",)
    wants_early_look = False

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.position = 0
        self.last_scores = {"slow": 0.0}
        self.skipped: list[int] = []

    def process(self, samples: Any) -> list[Detection]:
        self.entered.set()
        self.gate.wait(10)
        self.position += len(samples)
        return [Detection("slow", 0.9, self.position, self.position)]

    def skip(self, n_samples: int) -> None:
        self.skipped.append(n_samples)
        self.position += n_samples

    def reset(self) -> None:
        pass


def test_a_stalled_worker_drops_the_oldest_frames_and_keeps_positions() -> None:
    detector = SlowDetector()
    ends: queue.Queue[int] = queue.Queue()
    listener = WakeListener(detector, lambda m, s, end: ends.put(end), queue_frames=4)
    listener.start()
    try:
        frame = np.zeros(1280, dtype=np.int16)
        listener.consumer(frame)  # taken by the worker, which then blocks
        assert detector.entered.wait(5)
        for _ in range(10):
            listener.consumer(frame)  # returns at once although nothing is processed
        assert listener.dropped_frames == 6
        detector.gate.set()
        got = [ends.get(timeout=5) for _ in range(2)]  # the 4 kept frames in one batch
        assert listener.wait_idle(5)
    finally:
        assert listener.close()
    assert detector.skipped == [6 * 1280]
    assert got == [1280, 11 * 1280]  # aligned with the stream: the gap is counted


def _running_listener() -> tuple[SlowDetector, WakeListener, queue.Queue[int]]:
    """A listener over a SlowDetector that never blocks; the queue gets each wake's end."""
    detector = SlowDetector()
    detector.gate.set()
    ends: queue.Queue[int] = queue.Queue()
    listener = WakeListener(detector, lambda m, s, end: ends.put(end))
    listener.start()
    return detector, listener, ends


def test_the_worker_waits_for_a_whole_frame_unless_flushed() -> None:
    detector, listener, ends = _running_listener()
    try:
        for _ in range(3):
            listener.consumer(np.zeros(320, dtype=np.int16))  # 60 ms: not a frame yet
        assert ends.empty() and not detector.entered.is_set()
        listener.consumer(np.zeros(320, dtype=np.int16))  # 80 ms: one batch
        assert ends.get(timeout=5) == 1280
        listener.consumer(np.zeros(320, dtype=np.int16))
        assert listener.wait_idle(5)  # flushes the partial frame
        assert ends.get(timeout=5) == 1600
    finally:
        assert listener.close()


def test_while_the_detector_wants_an_early_look_each_frame_goes_to_it_at_once() -> None:
    detector, listener, ends = _running_listener()
    try:
        detector.wants_early_look = True  # a score is rising: every 20 ms counts
        listener.consumer(np.zeros(320, dtype=np.int16))
        assert ends.get(timeout=5) == 320  # not held back for a whole frame
        listener.consumer(np.zeros(320, dtype=np.int16))
        assert ends.get(timeout=5) == 640
        assert listener.wants_early_look()  # what the capture pipeline's batch veto asks
        detector.wants_early_look = False
        listener.consumer(np.zeros(320, dtype=np.int16))
        assert not listener.wants_early_look()
        with pytest.raises(queue.Empty):
            ends.get(timeout=0.3)  # back to whole frames
    finally:
        assert listener.close()


def test_a_failing_detector_is_reported_and_stops_the_worker() -> None:
    class Broken(SlowDetector):
        def process(self, samples: Any) -> list[Detection]:
            raise RuntimeError("onnxruntime fell over")

    errors: queue.Queue[BaseException] = queue.Queue()
    listener = WakeListener(Broken(), lambda m, s, e: None, on_error=errors.put)
    listener.start()
    listener.consumer(np.zeros(1280, dtype=np.int16))
    assert str(errors.get(timeout=5)) == "onnxruntime fell over"
    assert listener.close()
    listener.consumer(np.zeros(320, dtype=np.int16))  # still returns at once
