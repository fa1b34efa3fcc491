"""The wake-word seam: what the daemon needs from a detector, and the trigger rule (pure).

A ``WakeDetector`` is one stateful object with one hot method: ``process(samples)`` takes
16 kHz mono int16 samples (any count; the detector cuts them into 80 ms frames of 1280
samples) and returns the detections those samples completed, usually none.

Positions are counted in 16 kHz samples since the detector was created (``skip`` advances
the count for samples that were lost), so a ``Detection.end_sample`` can be lined up with
the capture stream: it is the end of the first frame whose score crossed the threshold in
the run that fired, i.e. roughly where the phrase ended (see ``TriggerRule``).

Example::

    detector = OpenWakeWordDetector([ModelSpec("hey_jarvis", path, 0.5)])
    for d in detector.process(samples_16k):
        print(d.model, d.score, d.end_sample)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SAMPLE_RATE_HZ = 16000
FRAME_SAMPLES = 1280  # 80 ms at 16 kHz: one score per model per frame
FRAME_MS = FRAME_SAMPLES * 1000 // SAMPLE_RATE_HZ


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

    def process(self, samples: object) -> list[Detection]: ...

    def skip(self, n_samples: int) -> None:
        """Account ``n_samples`` that never arrived (dropped): positions stay aligned."""
        ...

    def reset(self) -> None:
        """Forget what was heard (scores, runs, refractory), keep the position count."""
        ...


@dataclass(slots=True)
class TriggerRule:
    """Per model: ``trigger_frames`` consecutive frames at or over ``threshold`` fire once;
    then nothing fires for ``refractory_samples``. Fed one score per 80 ms frame.

    Example::

        rule = TriggerRule(0.5, trigger_frames=2, refractory_samples=32000)
        fired = rule.update(score, frame_end_sample)   # None, or (first_end, score)
    """

    threshold: float
    trigger_frames: int = 1
    refractory_samples: int = 2 * SAMPLE_RATE_HZ
    _run: int = 0
    _run_first_end: int = 0
    _quiet_until: int = -1

    def update(self, score: float, frame_end_sample: int) -> tuple[int, float] | None:
        """``(end of the run's first frame, score)`` when this frame fires, else None."""
        if frame_end_sample < self._quiet_until:
            self._run = 0
            return None
        if score < self.threshold:
            self._run = 0
            return None
        if self._run == 0:
            self._run_first_end = frame_end_sample
        self._run += 1
        if self._run < self.trigger_frames:
            return None
        self._run = 0
        self._quiet_until = frame_end_sample + self.refractory_samples
        return self._run_first_end, score

    def reset(self) -> None:
        self._run = 0
        self._quiet_until = -1
