"""The local VAD worker: frames in from the event loop, on_speech out from its thread."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from device.vad.listener import VadListener
from device.vad.settings import BargeInSettings, EchoSettings
from device.vad.silero import SileroModel
from tests.pulse import read_wav_mono
from tests.vad.sounds import Sounds, make_sounds


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Sounds:
    return make_sounds(tmp_path_factory.mktemp("sounds"))


class Heard:
    def __init__(self) -> None:
        self.starts: list[int] = []
        self.threads: set[str] = set()
        self.event = threading.Event()

    def __call__(self, start_sample: int) -> None:
        self.starts.append(start_sample)
        self.threads.add(threading.current_thread().name)
        self.event.set()


def frames(x: np.ndarray) -> list[np.ndarray]:
    return [x[i : i + 320] for i in range(0, len(x), 320)]


def phrase(sounds: Sounds) -> tuple[np.ndarray, int]:
    """A second of silence, the caller, a second of silence; and the onset sample."""
    caller, _ = read_wav_mono(sounds.caller)
    audio = np.concatenate([np.zeros(16000, np.int16), caller, np.zeros(16000, np.int16)])
    return audio, 16000 + int(np.flatnonzero(np.abs(caller) > 300)[0])


def test_speech_is_reported_from_the_worker_only_while_active(sounds: Sounds) -> None:
    heard = Heard()
    # frames come faster than real time here: a queue long enough for all of them
    vad = VadListener(BargeInSettings(), EchoSettings(mode="software"), heard, queue_items=1000)
    audio, first = phrase(sounds)
    for f in frames(audio):  # the device is listening, not speaking: no detection
        vad.consumer(f)
    vad.start()
    assert vad.active
    offset = len(audio)
    for f in frames(audio):  # the device speaks: the caller's phrase interrupts
        vad.consumer(f)
    assert heard.event.wait(5), "no speech reported"
    vad.stop()
    vad.close()
    assert heard.threads == {"local-vad"}
    assert len(heard.starts) == 1  # counted on the stream of all frames given
    assert 0 <= heard.starts[0] - (offset + first) <= 1600  # within 100 ms of the onset
    assert vad.dropped == 0 and vad.detections == 1
    assert vad.audio_s == pytest.approx(len(audio) / 16000, abs=0.03)  # only while active
    vad.close()  # idempotent


def test_half_duplex_never_listens_while_speaking(sounds: Sounds) -> None:
    heard = Heard()
    vad = VadListener(BargeInSettings(), EchoSettings(mode="half_duplex"), heard)
    vad.start()
    assert not vad.active
    audio, _ = phrase(sounds)
    for f in frames(audio):
        vad.consumer(f)
    vad.close()  # joins the worker: anything it would have reported is in by now
    assert heard.starts == [] and vad.audio_s == 0


class GatedModel(SileroModel):
    """The real model, held at a gate: a worker that falls behind."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def probability(self, window: np.ndarray) -> float:
        self.gate.wait(5)
        return super().probability(window)


def test_consumer_returns_at_once_and_drops_when_the_worker_falls_behind(
    sounds: Sounds,
) -> None:
    model = GatedModel()
    vad = VadListener(
        BargeInSettings(), EchoSettings(mode="software"), Heard(), model=model, queue_items=8
    )
    vad.start()
    audio, _ = phrase(sounds)
    slowest = 0.0
    for f in frames(audio):
        t = time.perf_counter()
        vad.consumer(f)
        slowest = max(slowest, time.perf_counter() - t)
    assert slowest < 0.005  # the event loop is never held up
    assert vad.dropped > 0
    model.gate.set()
    vad.close()
