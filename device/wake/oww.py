"""openWakeWord on onnxruntime: the ``WakeDetector`` the daemon runs (adapter over 3 models).

openWakeWord's pipeline, per 80 ms frame (1280 samples at 16 kHz):

1. ``melspectrogram.onnx`` on the frame plus the 480 samples before it: 8 mel frames
   (32 bands), scaled ``x / 10 + 2`` as openWakeWord does;
2. ``embedding_model.onnx`` on the latest 76 mel frames (0.76 s): one 96-value embedding;
3. each wake model on its latest N embeddings (16 for the pre-trained ones): one score.

This is the same arithmetic as ``openwakeword.Model(inference_framework="onnx")`` (the
tests compare the scores), without importing the ``openwakeword`` package: its
``__init__`` pulls in scikit-learn and scipy (about 95 MB and seconds of start-up) for
training helpers a kiosk never uses, and its streaming buffer copies 10 s of audio into a
Python list per frame. The feature buffers start from the features of digital silence
(openWakeWord seeds them from unseeded random noise), so runs are reproducible.

Idle: with a ``QuietTracker``, a frame in a quiet stretch (see device/wake/quiet.py) runs
no model. The last embedding is repeated (the window it saw was the room's, as the models
stopped) and the raw audio is kept (about 2.7 s), so when the models start again the mel
windows are recomputed from the audio kept (frame by frame, as streaming computes them), the
frames since the sound began are caught up (an embedding and a score each, in order) and the
models see what they would have seen had they never stopped. On the first start after
``reset`` the whole of the models' windows is recomputed: the features held then are those
of digital silence, which in steady noise (babble in a busy hall) are not what the models
would have seen (9 of 512 bench phrases in babble were lost that way; now every score while
the models run equals continuous inference's on the bench's positives).

Early looks: a model's score crosses its threshold 0.1-0.4 s after the phrase ends, and is
sampled once per 80 ms frame, so a frame boundary adds 40 ms on average. While a model that
may fire now (``TriggerRule.open_to_early``) scored at least ``EARLY_LOOK_SCORE`` on the last
frame, each further 20 ms of the next frame gets a look: the mel frames of that part (the
melspectrogram model gives 2 per 20 ms, 320 samples), one embedding of the latest 76 mel frames,
scored with the model's window of whole-frame embeddings, its newest replaced by that one.
Over the threshold by ``TriggerRule``'s early margin (0.04), it fires at once; the frame
itself is still computed as usual when it is complete (the looks change no state but the
rule's). On the full bench corpus (512 phrases, 2.4 h of other speech and noise; threshold
0.76) the median latency fell from 244 to 196 ms, with 311 phrases accepted instead of
306, and the same 25 false accepts; with no margin, 186 ms, 313 and 26 (at 0.75: 315 and
28, the peer 303 and 25), for looks at a few per cent of the frames of continuous speech
(scores over 0.05 are rare away from the phrase).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from device.wake.detector import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE_HZ, Detection, TriggerRule
from device.wake.models import ModelSpec, ResolvedModels, resolve
from device.wake.onnx import load_session
from device.wake.quiet import QuietTracker
from device.wake.settings import WakeSettings

MEL_CONTEXT_SAMPLES = 480  # 3 hops of 160: the melspectrogram model's look-back
MEL_FRAMES_PER_FRAME = 8
MEL_BANDS = 32
EMBEDDING_WINDOW = 76  # mel frames per embedding
EMBEDDING_SIZE = 96
# frames of audio in one mel window (76 mel frames: 9.5 frames); the quiet tracker's tail
HISTORY_FRAMES = 10
# the most frames caught up when the models start (the QuietTracker's window_frames)
CATCH_UP_FRAMES = HISTORY_FRAMES
_HISTORY_SPARE_FRAMES = 64
EARLY_LOOK_SAMPLES = 320  # 20 ms: a capture frame (one look per new 20 ms of a frame)
EARLY_LOOK_SCORE = 0.05  # the last frame's score from which the next frame gets looks


def history_samples(n_embeddings: int) -> int:
    """Audio kept to recompute, after a quiet stretch, the ``n_embeddings`` embeddings of a
    model's window for each of ``CATCH_UP_FRAMES`` frames (each from its own mel window)."""
    frames = n_embeddings + CATCH_UP_FRAMES - 1
    return (HISTORY_FRAMES + frames - 1) * FRAME_SAMPLES + MEL_CONTEXT_SAMPLES


class _Model:
    def __init__(self, spec: ModelSpec, threads: int, spinning: bool) -> None:
        self.spec = spec
        self.session = load_session(spec.path, threads, spinning)
        inputs = self.session.get_inputs()
        shape = inputs[0].shape
        if len(inputs) != 1 or len(shape) != 3 or shape[2] != EMBEDDING_SIZE:
            raise ValueError(
                f"{spec.path}: not an openWakeWord model (input {inputs[0].name} {shape}, "
                f"expected [1, N, {EMBEDDING_SIZE}])"
            )
        self.input_name = inputs[0].name
        self.n_embeddings = int(shape[1])
        self.rule = TriggerRule(
            spec.threshold, spec.trigger_frames, round(spec.refractory_s * SAMPLE_RATE_HZ)
        )

    def score(self, embeddings: npt.NDArray[np.float32]) -> float:
        window = embeddings[None, -self.n_embeddings :, :]
        out = self.session.run(None, {self.input_name: window})[0]
        return float(out.reshape(-1)[0])

    def early_score(
        self, embeddings: npt.NDArray[np.float32], newest: npt.NDArray[np.float32]
    ) -> float:
        """The score of the window with its newest embedding replaced by ``newest``."""
        window = np.concatenate([embeddings[1 - self.n_embeddings :], newest[None, :]])
        return self.score(window)


class OpenWakeWordDetector:
    """See the module docstring; the ``WakeDetector`` contract is in device/wake/detector.py.

    ``idle``: a ``QuietTracker`` to skip the models in quiet stretches, or None to run them
    on every frame. ``threads``/``spinning``: onnxruntime session options (one thread, no
    spinning is what the daemon uses; the bench measures the others).
    """

    def __init__(
        self,
        melspec: Path,
        embedding: Path,
        models: Sequence[ModelSpec],
        *,
        idle: QuietTracker | None = None,
        threads: int = 1,
        spinning: bool = False,
    ) -> None:
        if not models:
            raise ValueError("no wake-word model given")
        self._mel = load_session(melspec, threads, spinning)
        self._emb = load_session(embedding, threads, spinning)
        self._models = [_Model(m, threads, spinning) for m in models]
        self._idle = idle
        self._n_embeddings = max(m.n_embeddings for m in self._models)
        self._history_samples = history_samples(self._n_embeddings)
        self._position = 0
        self._pending = np.zeros(0, dtype=np.int16)
        self.frames = 0
        self.skipped_frames = 0
        self.early_looks = 0
        self._early: list[_Model] = []  # the models the next frame's looks are for
        self._looked = 0  # samples of the pending frame looked at
        self.last_scores = {m.spec.label: 0.0 for m in self._models}
        self._silence_mels, self._silence_embedding = self._silence_features()
        self._init_state()

    @classmethod
    def from_resolved(
        cls, resolved: ResolvedModels, idle: QuietTracker | None = None, **kwargs: Any
    ) -> OpenWakeWordDetector:
        return cls(resolved.melspec, resolved.embedding, resolved.models, idle=idle, **kwargs)

    # -- WakeDetector ---------------------------------------------------------------------

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m.spec.label for m in self._models)

    @property
    def position(self) -> int:
        return self._position

    @property
    def wants_early_look(self) -> bool:
        return bool(self._early)

    @property
    def running(self) -> bool:
        """Whether the latest frame ran the models (False: skipped as quiet)."""
        return self._running

    def process(self, samples: object) -> list[Detection]:
        new = _as_int16(samples)
        if self._pending.size:
            new = np.concatenate([self._pending, new])
        n_frames = new.size // FRAME_SAMPLES
        self._pending = new[n_frames * FRAME_SAMPLES :].copy()
        found: list[Detection] = []
        for i in range(n_frames):
            self._frame(new[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES], found)
        if n_frames:
            self._looked = 0
        if self._early and self._pending.size - self._looked >= EARLY_LOOK_SAMPLES:
            self._early_look(found)
        return found

    def skip(self, n_samples: int) -> None:
        self._position += len(self._pending) + n_samples
        self._pending = np.zeros(0, dtype=np.int16)
        self._early, self._looked = [], 0

    def reset(self) -> None:
        """Also forgets the room (the quiet tracker's noise floor): the next audio may be
        another recording (the bench runs clip after clip)."""
        self._position += len(self._pending)
        self._pending = np.zeros(0, dtype=np.int16)
        self._early, self._looked = [], 0
        if self._idle is not None:
            self._idle.reset()
        self._init_state()
        for m in self._models:
            m.rule.reset()
            self.last_scores[m.spec.label] = 0.0

    # -- the pipeline ---------------------------------------------------------------------

    def _init_state(self) -> None:
        # the audio kept: the latest _history_samples end at _history_end (appended in place,
        # moved to the front once every _HISTORY_SPARE_FRAMES frames)
        kept_samples = self._history_samples
        self._history = np.zeros(kept_samples + _HISTORY_SPARE_FRAMES * FRAME_SAMPLES, np.float32)
        self._history_end = kept_samples
        self._mels = np.repeat(self._silence_mels[-1:], EMBEDDING_WINDOW, axis=0)
        kept = self._n_embeddings + CATCH_UP_FRAMES - 1
        self._embeddings = np.repeat(self._silence_embedding[None, :], kept, 0)
        self._frames_since_reset = 0
        self._ran_since_reset = False  # whether a restart has computed real embeddings
        self._stale_mels = False
        self._running = True

    def _silence_features(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        mels = self._melspectrogram(np.zeros(FRAME_SAMPLES + MEL_CONTEXT_SAMPLES, np.float32))
        window = np.repeat(mels[-1:], EMBEDDING_WINDOW, axis=0)
        return mels, self._embed(window)

    def _melspectrogram(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = self._mel.run(None, {"input": audio[None, :]})[0]
        mels: npt.NDArray[np.float32] = out.reshape(-1, MEL_BANDS) / 10.0 + 2.0
        return mels

    def _backfill_mels(self, history: npt.NDArray[np.float32], frames: int) -> list[Any]:
        """The mel windows of the last ``frames`` frames (oldest first) as streaming would
        have built them: frame by frame, because the melspectrogram model clips each input's
        quietest bands relative to its loudest. (Frames before the first since ``reset`` see
        the zeros the history starts with: digital silence, as streaming's initial state.)"""
        step, span = FRAME_SAMPLES, FRAME_SAMPLES + MEL_CONTEXT_SAMPLES
        needed = HISTORY_FRAMES + frames - 1  # melspectrogram runs
        windows = np.lib.stride_tricks.sliding_window_view(history, span)[::step][-needed:]
        mels = np.concatenate([self._melspectrogram(w) for w in windows])
        ends = [len(mels) - MEL_FRAMES_PER_FRAME * k for k in range(frames - 1, -1, -1)]
        return [np.ascontiguousarray(mels[end - EMBEDDING_WINDOW : end]) for end in ends]

    def _embed(self, mels: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = self._emb.run(None, {"input_1": mels[None, :, :, None]})[0]
        embedding: npt.NDArray[np.float32] = out.reshape(EMBEDDING_SIZE)
        return embedding

    def _frame(self, frame: npt.NDArray[np.int16], found: list[Detection]) -> None:
        self.frames += 1
        self._frames_since_reset += 1
        self._position += FRAME_SAMPLES
        history = self._append_history(frame)
        frames = self._idle.update(frame) if self._idle is not None else 1
        self._running = frames > 0
        if not frames:
            self.skipped_frames += 1
            self._early = []
            self._stale_mels = True
            self._push_embedding(self._embeddings[-1])
            for m in self._models:
                self.last_scores[m.spec.label] = 0.0
                m.rule.update(0.0, self._position)
            return
        if self._stale_mels:  # back from a quiet stretch: the windows from the audio kept
            self._restart(history, min(frames, self._frames_since_reset, CATCH_UP_FRAMES), found)
            return
        new_mels = self._melspectrogram(history[-(FRAME_SAMPLES + MEL_CONTEXT_SAMPLES) :])
        mels = self._mels
        mels[:-MEL_FRAMES_PER_FRAME] = mels[MEL_FRAMES_PER_FRAME:]
        mels[-MEL_FRAMES_PER_FRAME:] = new_mels
        self._step(mels, self._position, found)

    def _restart(
        self, history: npt.NDArray[np.float32], frames: int, found: list[Detection]
    ) -> None:
        """The models start again on this frame and the ``frames - 1`` skipped before it
        (since the sound began): each is embedded and scored in order. On the first start
        since ``reset`` the embeddings before those, which the models' windows still hold,
        are recomputed too (pushed, not scored: quiet frames fire nothing): they are the
        state of digital silence, not the room's. Later the repeated embedding is the room's
        as of the last run, as the models would have seen it (the counts of the bench's
        babble phrases behind 6 s of babble are those of continuous inference)."""
        self._stale_mels = False
        older = 0
        if not self._ran_since_reset:
            older = max(0, min(self._n_embeddings - 1, self._frames_since_reset - frames))
            self._ran_since_reset = True
        windows = self._backfill_mels(history, older + frames)
        self._pop_embeddings(older + frames - 1)
        self.skipped_frames -= frames - 1
        for mels in windows[:older]:
            self._push_embedding(self._embed(mels))
        for k, mels in enumerate(windows[older:]):
            end = self._position - (frames - 1 - k) * FRAME_SAMPLES
            self._step(mels, end, found)
        self._mels = windows[-1]

    def _step(self, mels: npt.NDArray[np.float32], end: int, found: list[Detection]) -> None:
        """One frame's embedding (from its mel window) and scores; ``end``: its end sample."""
        self._push_embedding(self._embed(mels))
        self._early = []
        for m in self._models:
            score = m.score(self._embeddings)
            self.last_scores[m.spec.label] = score
            fired = m.rule.update(score, end)
            if fired is not None:
                first_end, fired_score = fired
                found.append(Detection(m.spec.label, fired_score, first_end, end))
            elif score >= EARLY_LOOK_SCORE and m.rule.open_to_early(end):
                self._early.append(m)

    def _early_look(self, found: list[Detection]) -> None:
        """A look at the pending part of the next frame (see the module docstring)."""
        n = self._pending.size // EARLY_LOOK_SAMPLES * EARLY_LOOK_SAMPLES
        self._looked = n
        self.early_looks += 1
        end = self._history_end
        context = self._history[end - MEL_CONTEXT_SAMPLES : end]
        audio = np.concatenate([context, self._pending[:n].astype(np.float32)])
        part = self._melspectrogram(audio)
        mels = np.concatenate([self._mels[part.shape[0] :], part])
        newest = self._embed(mels)
        sample = self._position + n
        for m in list(self._early):
            fired = m.rule.early(m.early_score(self._embeddings, newest), sample)
            if fired is not None:
                self._early.remove(m)
                found.append(Detection(m.spec.label, fired[1], fired[0], sample))

    def _append_history(self, frame: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
        """Keep ``frame``; the latest ``_history_samples`` of audio, as a view."""
        buffer, end, kept = self._history, self._history_end, self._history_samples
        if end + FRAME_SAMPLES > buffer.size:
            buffer[:kept] = buffer[end - kept : end]
            end = kept
        buffer[end : end + FRAME_SAMPLES] = frame
        end += FRAME_SAMPLES
        self._history_end = end
        return buffer[end - kept : end]

    def _push_embedding(self, embedding: npt.NDArray[np.float32]) -> None:
        e = self._embeddings
        e[:-1] = e[1:]
        e[-1] = embedding

    def _pop_embeddings(self, count: int) -> None:
        """Take back the latest ``count`` pushes (to be pushed again, recomputed; the
        entries moved into the oldest slots are overwritten or never read)."""
        if count > 0:
            e = self._embeddings
            e[count:] = e[:-count].copy()


def _as_int16(samples: object) -> npt.NDArray[np.int16]:
    if isinstance(samples, bytes | bytearray | memoryview):
        return np.frombuffer(samples, dtype="<i2").astype(np.int16, copy=False)
    array = np.asarray(samples)
    if array.dtype != np.int16 or array.ndim != 1:
        raise ValueError(
            f"wake detector: expected 1-D int16 samples (got {array.dtype}, shape {array.shape})"
        )
    return array


def detector_from_settings(settings: WakeSettings) -> OpenWakeWordDetector:
    """The daemon's detector: the configured models, one thread, idle skipping as set.

    Raises ``ModelNotFound`` (a missing file) or ``ValueError`` (a file that is not an
    openWakeWord model), each with a one-line message naming the file.
    """
    idle = (
        QuietTracker(
            FRAME_MS,
            HISTORY_FRAMES,
            settings.idle_open_db,
            settings.idle_min_dbfs,
        )
        if settings.idle_skip
        else None
    )
    return OpenWakeWordDetector.from_resolved(resolve(settings), idle)
