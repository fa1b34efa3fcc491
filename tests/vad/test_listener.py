"""The local VAD worker: frames in from the event loop, on_speech out from its thread."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soxr

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


def _echo_only(sounds: Sounds, echo: EchoSettings) -> int:
    """Speech reports while the mic hears only the device's own reply (12 dB down, 40 ms
    late), the speaker telling the listener what it plays, as PyAudioSpeaker does."""
    reply, rate = read_wav_mono(sounds.replies[0])
    reply16 = soxr.resample(reply.astype(np.float32), rate, 16000)
    lead, delay = np.zeros(16000, np.float32), np.zeros(640, np.float32)
    mic = (np.concatenate([lead, delay, reply16 * 0.25, lead])).astype(np.int16)
    now = [100.0]
    heard = Heard()
    vad = VadListener(BargeInSettings(), echo, heard, queue_items=1000, clock=lambda: now[0])
    chunk = rate // 50  # the speaker hands over 20 ms at a time, 40 ms before it plays
    played = [
        (101.0 + k / 50, reply[k * chunk : (k + 1) * chunk]) for k in range(len(reply) // chunk)
    ]
    try:
        vad.start()
        for i, f in enumerate(frames(mic)):
            now[0] = 100.0 + (i + 1) * 0.02  # each frame arrives as it ends
            vad.consumer(f)
            while played and played[0][0] - 0.04 <= now[0]:
                at_s, samples = played.pop(0)  # the reply plays from 1 s into the mic stream
                vad.reference(samples, rate, at_s)
        vad.sync()
        return vad.detections
    finally:
        vad.close()


def test_software_with_the_raw_mic_is_not_fooled_by_the_device_s_own_voice(
    sounds: Sounds,
) -> None:
    """``raw_input``: the detector listens to the mic under the canceller, which hears the
    reply in full. Trusted as the cancelled source is, the echo would cut the reply off;
    weighed against what the speaker plays (reference mode's judgement), it does not."""
    assert _echo_only(sounds, EchoSettings(mode="software")) >= 1  # what trusting it would do
    assert _echo_only(sounds, EchoSettings(mode="software", raw_input="kiosk_raw")) == 0


def test_started_back_at_a_sample_it_judges_the_words_already_under_way(sounds: Sounds) -> None:
    """A caller who is already talking when the device starts a prompt (one breath after
    the wake phrase): the detector begins back where they began, from the kept audio."""
    audio, first = phrase(sounds)
    under_way = first + 8000  # half a second into the caller's words
    for started_back in (False, True):
        heard = Heard()
        vad = VadListener(BargeInSettings(), EchoSettings(mode="software"), heard, queue_items=1000)
        for f in frames(audio[:under_way]):  # heard while idle: kept, not judged
            vad.consumer(f)
        vad.start(from_sample=first - 1600 if started_back else None)
        for f in frames(audio[under_way : under_way + 1600]):  # 100 ms more, then the end
            vad.consumer(f)
        assert vad.sync()
        vad.close()
        if started_back:
            assert len(heard.starts) == 1, heard.starts
            assert 0 <= heard.starts[0] - first <= 1600  # from the caller's onset
        else:  # from the prompt on, 100 ms of them is not yet a caller: judged too late
            assert heard.starts == []


def test_only_the_last_second_is_kept_while_idle(sounds: Sounds) -> None:
    audio, first = phrase(sounds)
    heard = Heard()
    vad = VadListener(BargeInSettings(), EchoSettings(mode="software"), heard, queue_items=1000)
    for f in frames(audio[: first + 3200]):  # the words began 200 ms before the end
        vad.consumer(f)
    for f in frames(np.zeros(16000 + 3200, np.int16)):  # then 1.2 s of silence
        vad.consumer(f)
    vad.start(from_sample=0)  # asked for everything: only the last LOOKBACK_S is there
    assert vad.sync()
    vad.close()
    assert heard.starts == []
