"""Speech start/stop decisions from a VAD model's window probabilities (pure).

``feed(samples)`` takes 16 kHz int16 audio in any amount, cuts it into 512-sample windows
(32 ms; the rest waits for the next call), scores each with the ``score`` function it was
given (the Silero model's ``probability``, or anything with that contract) and returns the
decisions those windows complete:

- a window counts as speech when its probability is at least ``threshold`` and its level
  at least ``min_level_dbfs``; with an echo reference (reference mode) both are taken of
  what is left once the echo of the device's own voice, raised by ``margin_db``, is
  suppressed (``EchoReference.suppress``), and what is left must not be more than
  half ``margin_db`` under the echo (a faint residue of the echo is not a caller); until the
  echo's delay is known the whole window must be ``margin_db`` above the estimated echo.
  Windows the echo explains are not speech; with ``reset`` (the model's own reset) the model
  is reset after three of them in a row and not run again until one is not explained
  (``_probability``: why);
- ``SpeechStarted(start_sample)`` once ``min_speech_ms`` of speech windows came with no gap
  of ``min_silence_ms`` between them (``start_sample``: the first of them, counted from the
  first sample fed since the last ``reset()``);
- ``SpeechStopped(end_sample)`` after ``min_silence_ms`` without speech following a start;
- with ``hold_ms`` > 0, ``SpeechSuspected(start_sample)`` on the first window that looks
  like speech by a lower bar while no speech has started: probability at least
  ``hold_threshold``, the level as above, and (reference mode) what the echo leaves up to
  ``_NEAR_ECHO`` of ``margin_db`` under it. The caller of the detector pauses the reply at
  once. Then either ``SpeechStarted`` confirms it (the barge-in), or
  ``SuspicionCleared(end_sample, expired)`` says the reply may go on: after
  ``min_silence_ms`` of windows well under the lower bar (``_CLEAR_BELOW`` of it), or
  (``expired``) once the hold has lasted ``hold_ms`` unconfirmed. A suspicion that
  expired is not raised again until such a run of calm windows (no stutter through a
  long noise).
- the onset pause (``onset_pause``, reference mode): once the echo path has learnt that
  the mic does not hear the speaker at all (``EchoPath.inaudible``: a headset, a mic array
  with its own canceller), nothing the mic hears can be the device's own voice, so a
  sudden rise of its level (a 10 ms block ``ONSET_RISE_DB`` over the mic's own floor, and
  at least ``min_level_dbfs``) raises ``SpeechSuspected(start, onset=True)`` at once,
  before the model has scored a window of it (from silence its first window of 0.4 ends
  about 80 ms after a caller's onset). Such a suspicion clears only once the sound has
  ended too (calm windows back under the rise), or expires after ``hold_ms``; the first
  window that is a suspicion by the model's bar renews it (``renewed=True``: the pause
  runs ``hold_ms`` from there, as that suspicion's own would). Noises pause the reply on
  such a mic (a door slam about 100-250 ms); what the model confirms does not change.

Example::

    detector = SpeechDetector(model.probability, BargeInSettings())
    for decision in detector.feed(frame_16k):
        if isinstance(decision, SpeechStarted): interrupt()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from device.vad.echo import EchoReference, as_float, power_db
from device.vad.settings import BargeInSettings, EchoMode

RATE_HZ = 16000
WINDOW = 512


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    start_sample: int  # first sample of the first speech window


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    end_sample: int  # first sample after the last speech window


@dataclass(frozen=True, slots=True)
class SpeechSuspected:
    start_sample: int  # first sample of the window (onset: the 10 ms block) that raised it
    onset: bool = False  # raised by a sudden rise of the level (the onset pause)
    renewed: bool = False  # a suspicion already on, renewed by the model: hold_ms from here


@dataclass(frozen=True, slots=True)
class SuspicionCleared:
    end_sample: int  # first sample after the window that cleared it
    expired: bool  # the hold ran out (hold_ms) rather than the sound ending


Decision = SpeechStarted | SpeechStopped | SpeechSuspected | SuspicionCleared


@dataclass(frozen=True, slots=True)
class WindowScore:
    """One window's figures (``trace``: tests and benchmarks look at them)."""

    start_sample: int
    probability: float
    level_dbfs: float
    echo_dbfs: float | None
    speech: bool
    explained: bool = False  # the echo explains the window (reference mode)


class SpeechDetector:
    """See the module docstring. ``echo``: weigh the mic against it (reference mode)."""

    def __init__(
        self,
        score: Callable[[np.ndarray], float],
        settings: BargeInSettings,
        *,
        echo: EchoReference | None = None,
        margin_db: float = 10.0,
        reset: Callable[[], None] | None = None,
        echo_mode: EchoMode | None = None,
        onset_pause: bool = True,
    ) -> None:
        self.score = score
        self.settings = settings
        self.echo = echo
        self.margin_db = margin_db
        self.reset_model = reset
        self._explained = 0  # windows in a row the echo explains
        self._previous: list[np.ndarray] = []  # the last windows seen (for a warm-up)
        self.min_speech = _windows(settings.confirm_ms(echo_mode))
        self.min_silence = _windows(settings.min_silence_ms)
        self.hold_windows = _windows(settings.hold_ms) if settings.hold_ms > 0 else 0
        self.trace: list[WindowScore] | None = None
        self.windows = 0
        # the onset pause (reference mode, a mic that does not hear the speaker)
        self.onset_pause = onset_pause and echo is not None and self.hold_windows > 0
        self._levels: list[float] = []  # the last blocks' levels (dBFS), kept across streams
        self._floor: float | None = None  # their _ONSET_FLOOR_PERCENTILE (dBFS)
        self.reset()

    def reset(self, position: int = 0) -> None:
        """A new stream; its first sample will be ``position`` (the echo clock's mic index)."""
        self._explained = 0
        self._previous = []
        self._pending = np.zeros(0, dtype=np.float32)
        self.position = position  # index of the first sample in _pending
        self._candidate: int | None = None  # start of the run of speech windows
        self._speech = 0  # speech windows in the run
        self._gap = 0  # non-speech windows since the last speech window
        self.speaking = False
        self._suspected = 0  # windows since the suspicion (0: none)
        self._calm = 0  # windows in a row well under the hold bar
        self._spent = False  # a suspicion expired: none again until a quiet run
        self._onset = False  # the suspicion on was raised by a rise of the level
        # dBFS: the level that raised it, the sound ends under it (kept while spent: a long
        # noise must not pause the reply again and again)
        self._onset_bar: float | None = None
        self._onset_after = position  # no onset pause before this sample (after one went on)
        self._blocks = np.zeros(0, dtype=np.float32)  # samples not yet in a 10 ms block
        self._block_position = position

    @property
    def suspected(self) -> bool:
        """A suspicion is on (raised, neither confirmed nor cleared yet)."""
        return self._suspected > 0

    def feed(self, samples: np.ndarray) -> list[Decision]:
        samples = as_float(samples)
        decisions: list[Decision] = self._onset_step(samples) if self.onset_pause else []
        self._pending = np.concatenate([self._pending, samples])
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            start = self.position
            self.position += WINDOW
            decisions.extend(self._step(start, window))
        return decisions

    def _step(self, start: int, window: np.ndarray) -> list[Decision]:
        self.windows += 1
        echo = None if self.echo is None else self.echo.echo_level_db(start, start + WINDOW)
        # with an echo reference: judge what the echo leaves; before its delay is known,
        # the whole window must be margin_db above the (pessimistic) echo estimate
        cleaned = None if self.echo is None else self.echo.suppress(window, start, self.margin_db)
        heard = window if cleaned is None else cleaned
        level = power_db(float(np.dot(heard, heard)) / len(heard))
        explained = echo is not None and not (
            (level - echo >= self.margin_db)
            or (cleaned is not None and level >= echo - self.margin_db / 2)
        )
        # a suspicion takes less: what the echo leaves may be up to _NEAR_ECHO of margin_db
        # under it (in the rig the device's own residue never came within 10 dB of it)
        near = (
            self.hold_windows > 0
            and explained
            and cleaned is not None
            and echo is not None
            and level >= echo - self.margin_db * _NEAR_ECHO
        )
        probability = self._probability(heard, explained and not near)
        speech = (
            not explained
            and probability >= self.settings.threshold
            and level >= self.settings.min_level_dbfs
        )
        if self.trace is not None:
            self.trace.append(WindowScore(start, probability, level, echo, speech, explained))
        suspect = (
            (near or not explained)
            and probability >= self.settings.hold_threshold
            and level >= self.settings.min_level_dbfs
        )
        decision = self._speech_step(start, speech)
        out = (
            []
            if self.hold_windows == 0
            else self._hold_step(start, suspect, probability, level, decision)
        )
        if decision is not None:
            out.append(decision)
        return out

    def _hold_step(
        self,
        start: int,
        suspect: bool,
        probability: float,
        level: float,
        decision: Decision | None,
    ) -> list[Decision]:
        """The suspicion's decisions of this window (they come before ``decision``)."""
        calm = probability < self.settings.hold_threshold * _CLEAR_BELOW
        if self._onset_bar is not None:  # raised by a sound, not the model: it must have ended
            calm = calm and level < self._onset_bar
        self._calm = self._calm + 1 if calm else 0
        started = isinstance(decision, SpeechStarted)
        if self._suspected:
            if started:  # confirmed: the barge-in takes over
                self._suspected, self._onset, self._onset_bar = 0, False, None
                return []
            if self._onset and suspect:  # the model suspects it too: its own pause from here
                self._suspected, self._onset, self._onset_bar = 1, False, None
                return [SpeechSuspected(start, renewed=True)]
            self._suspected += 1
            if self._calm >= self.min_silence or self._suspected > self.hold_windows:
                expired = self._calm < self.min_silence
                if self._onset:  # a noise: no other onset pause for a while (a cough's
                    self._onset_after = start + _ONSET_REST  # second burst, a trolley)
                self._suspected, self._onset, self._spent = 0, False, expired
                if not expired:
                    self._onset_bar = None
                return [SuspicionCleared(start + WINDOW, expired=expired)]
            return []
        if self._spent and self._calm >= self.min_silence:
            self._spent, self._onset_bar = False, None
        if suspect and not started and not self.speaking and not self._spent:
            self._suspected = 1
            return [SpeechSuspected(start)]
        return []

    def _onset_step(self, samples: np.ndarray) -> list[Decision]:
        """The onset pause (see the module docstring): 10 ms blocks of the mic as they come."""
        self._blocks = np.concatenate([self._blocks, samples])
        n = len(self._blocks) // ONSET_BLOCK
        if n == 0:
            return []
        blocks = self._blocks[: n * ONSET_BLOCK].reshape(n, ONSET_BLOCK)
        self._blocks = self._blocks[n * ONSET_BLOCK :]
        out: list[Decision] = []
        for block in blocks:
            start = self._block_position
            self._block_position += ONSET_BLOCK
            level = power_db(float(np.dot(block, block)) / ONSET_BLOCK)
            levels = self._levels
            inaudible = self.echo is not None and self.echo.path.inaudible
            if (
                inaudible
                and len(levels) >= _ONSET_FLOOR_MIN_BLOCKS
                and (self._floor is None or start // ONSET_BLOCK % 10 == 0 or level < self._floor)
            ):  # (only on a mic found deaf to the speaker; every 100 ms, or at once when the
                # room got quieter: cheap)
                self._floor = float(np.percentile(levels, _ONSET_FLOOR_PERCENTILE))
            floor = self._floor
            levels.append(level)
            if len(levels) > _ONSET_FLOOR_BLOCKS:
                del levels[0]
            if (
                floor is None
                or out
                or self._suspected
                or self.speaking
                or self._spent
                or start < self._onset_after
            ):
                continue
            bar = max(self.settings.min_level_dbfs, floor + ONSET_RISE_DB)
            if level >= bar and inaudible:
                self._suspected, self._onset, self._onset_bar, self._calm = 1, True, bar, 0
                out.append(SpeechSuspected(start, onset=True))
        return out

    def _speech_step(self, start: int, speech: bool) -> Decision | None:
        if speech:
            if self._candidate is None:
                self._candidate = start
            self._speech += 1
            self._gap = 0
            if not self.speaking and self._speech >= self.min_speech:
                self.speaking = True
                return SpeechStarted(self._candidate)
            return None
        if self._candidate is None:
            return None
        self._gap += 1
        if self._gap < self.min_silence:
            return None
        end = start + WINDOW - self._gap * WINDOW
        was_speaking = self.speaking
        self._candidate, self._speech, self._gap, self.speaking = None, 0, 0, False
        return SpeechStopped(end) if was_speaking else None

    def _probability(self, heard: np.ndarray, explained: bool) -> float:
        """The model's speech probability of ``heard``, where it can matter.

        While the echo explains window after window, what it leaves (the device's own voice,
        faint) keeps the model's recurrent state in "speech": a door slam or a cough then
        scores as speech. So after ``_RESET_AFTER`` explained windows in a row the model is
        reset and no longer run (which also saves its CPU while the device talks alone);
        the first window the echo does not explain is judged after a warm-up on the
        ``_WARM_UP`` windows before it (a cold model scores a caller's first sounds low).
        """
        previous = self._previous
        self._previous = [*previous[1 - _WARM_UP :], heard] if _WARM_UP > 1 else [heard]
        if self.reset_model is None:  # no way to reset: judge every window
            return self.score(heard)
        if explained:
            self._explained += 1
            if self._explained < _RESET_AFTER:
                return self.score(heard)
            if self._explained == _RESET_AFTER:
                self.reset_model()
            return 0.0
        if self._explained >= _RESET_AFTER:
            for window in previous:
                self.score(window)
        self._explained = 0
        return self.score(heard)


ONSET_BLOCK = 160  # 10 ms: the onset pause looks at the mic's level block by block
ONSET_RISE_DB = 20.0  # a block this far over the mic's floor is a sudden rise
_ONSET_FLOOR_BLOCKS = 100  # the floor: of the last 1 s of blocks (the device speaking)...
_ONSET_FLOOR_PERCENTILE = 10.0  # ...this percentile of their levels
_ONSET_FLOOR_MIN_BLOCKS = 20  # none before 200 ms of them
_ONSET_REST = RATE_HZ  # samples (1 s) without an onset pause after one that went on
_RESET_AFTER = 3  # explained windows in a row (96 ms) after which the model is reset
_CLEAR_BELOW = 0.6  # "well under": this fraction of hold_threshold
_NEAR_ECHO = 1.0  # reference mode: a suspicion may be this much of margin_db under the echo
_WARM_UP = 3  # windows before the first unexplained one the reset model hears first


def _windows(ms: int) -> int:
    return max(1, -(-ms * RATE_HZ // (1000 * WINDOW)))  # ceil
