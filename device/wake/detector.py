"""The wake-word seam: what the daemon needs from a detector, and the trigger rule (pure).

A ``WakeDetector`` is one stateful object with one hot method: ``process(samples)`` takes
16 kHz mono int16 samples (any count; the detector cuts them into 80 ms frames of 1280
samples) and returns the detections those samples completed, usually none. While
``wants_early_look`` is true (a score is rising towards the threshold) it also takes an
early look at a frame's first 20, 40 or 60 ms as they come, so a detection can come up to
60 ms sooner; the rest of the time, giving it less than a frame costs nothing and finds
nothing.

Positions are counted in 16 kHz samples since the detector was created (``skip`` advances
the count for samples that were lost), so a ``Detection.end_sample`` can be lined up with
the capture stream: it is about where the phrase ended (a little before, never after the
first syllable of what follows; see ``TriggerRule``), while ``detected_sample`` is where
the detector fired (0.1-0.5 s later).

Example::

    detector = OpenWakeWordDetector([ModelSpec("hey_jarvis", path, 0.5)])
    for d in detector.process(samples_16k):
        print(d.model, d.score, d.end_sample)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

SAMPLE_RATE_HZ = 16000
FRAME_SAMPLES = 1280  # 80 ms at 16 kHz: one score per model per frame
FRAME_MS = FRAME_SAMPLES * 1000 // SAMPLE_RATE_HZ
EARLY_MARGIN = 0.04  # how far over the threshold an early look's score must be (TriggerRule)


@dataclass(frozen=True, slots=True)
class Detection:
    """A model heard its phrase. ``end_sample``: see the module docstring."""

    model: str
    score: float
    end_sample: int
    detected_sample: int  # end of the frame that fired (>= end_sample)


class WakeDetector(Protocol):
    """See the module docstring."""

    @property
    def model_names(self) -> tuple[str, ...]: ...

    @property
    def position(self) -> int:
        """16 kHz samples accounted so far."""
        ...

    @property
    def last_scores(self) -> dict[str, float]:
        """Each model's score of the latest frame (0 while the room is quiet)."""
        ...

    @property
    def wants_early_look(self) -> bool:
        """Whether a part of a frame is worth giving to ``process`` now, before the frame
        is complete: a detection may come from it (read from any thread)."""
        ...

    def process(self, samples: object) -> list[Detection]: ...

    def skip(self, n_samples: int) -> None:
        """Account ``n_samples`` that never arrived (dropped): positions stay aligned."""
        ...

    def reset(self) -> None:
        """Forget what was heard (scores, runs, refractory, the room's noise floor), keep
        the position count."""
        ...


class TriggerRule:
    """Per model: ``trigger_frames`` consecutive frames at or over ``threshold`` fire once;
    then nothing fires for ``refractory_samples``. Fed one score per 80 ms frame.

    Where did the phrase end? A model's score starts to rise as the end of the phrase comes
    into its window and crosses the threshold 0.1-0.4 s later. So a firing reports the start
    of the earliest of the last ``lookback_frames`` frames whose score reached ``rise_score``
    (or half the threshold, if lower), two more frames earlier (160 ms of margin: where the
    phrase falls on the frame grid moves the rise by up to a frame): audio from there on
    holds all that was said after the phrase, and usually its last syllable.

    Early looks (``early``): a score of a look at part of the next frame, before it is
    complete, fires as ``update`` would, if one frame over the threshold is all the rule
    needs (``trigger_frames`` 1), it is not in its refractory period and the score clears
    the threshold by ``early_margin``; it is not counted as a frame. The margin: looks
    sample the score up to four times as often as frames do, so at the same bar they catch
    more of the narrow peaks a near miss makes (figures in device/wake/oww.py's module
    docstring). With ``trigger_frames`` 2 or
    more the frames the rule counts stay 80 ms apart, so early looks never fire.

    Example::

        rule = TriggerRule(0.5, trigger_frames=2, refractory_samples=32000)
        fired = rule.update(score, frame_end_sample)   # None, or (phrase_end, score)
    """

    def __init__(
        self,
        threshold: float,
        trigger_frames: int = 1,
        refractory_samples: int = 2 * SAMPLE_RATE_HZ,
        *,
        rise_score: float = 0.1,
        lookback_frames: int = 8,
        early_margin: float = EARLY_MARGIN,
    ) -> None:
        self.threshold = threshold
        self.early_threshold = min(threshold + early_margin, 1.0)
        self.trigger_frames = trigger_frames
        self.refractory_samples = refractory_samples
        self.rise_level = min(rise_score, threshold / 2)
        self._recent: deque[tuple[float, int]] = deque(maxlen=max(1, lookback_frames))
        self._run = 0
        self._quiet_until = -1

    def update(self, score: float, frame_end_sample: int) -> tuple[int, float] | None:
        """``(phrase end estimate, score)`` when this frame fires, else None."""
        self._recent.append((score, frame_end_sample))
        if frame_end_sample < self._quiet_until or score < self.threshold:
            self._run = 0
            return None
        self._run += 1
        if self._run < self.trigger_frames:
            return None
        return self._fire(score, frame_end_sample)

    def open_to_early(self, sample: int) -> bool:
        """Whether an early look at ``sample`` could fire (see the class docstring)."""
        return self.trigger_frames == 1 and sample >= self._quiet_until

    def early(self, score: float, sample: int) -> tuple[int, float] | None:
        """An early look's score (``sample``: the end of the audio it saw): as ``update``."""
        if score < self.early_threshold or not self.open_to_early(sample):
            return None
        return self._fire(score, sample)

    def _fire(self, score: float, sample: int) -> tuple[int, float]:
        self._run = 0
        self._quiet_until = sample + self.refractory_samples
        rise_end = next((end for s, end in self._recent if s >= self.rise_level), sample)
        self._recent.clear()
        return max(0, rise_end - 3 * FRAME_SAMPLES), score

    def reset(self) -> None:
        self._run = 0
        self._quiet_until = -1
        self._recent.clear()
