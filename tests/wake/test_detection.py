"""The real hey_jarvis model on espeak-ng speech: it wakes on the phrase, not on the rest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.wake.detector import Detection
from device.wake.models import ResolvedModels
from device.wake.oww import OpenWakeWordDetector
from tests.helpers import make_detector
from tools.make_wake_audio import KNOWN_FALSE_TRIGGERS, NEAR_MISSES, read_wav

pytestmark = pytest.mark.slow  # the wake models over the whole espeak-ng corpus

CAPTURE_FRAME = 320  # 20 ms: what the capture fan-out hands over


# Where a phrase falls on the detector's 80 ms frame grid changes its scores by up to
# about 0.3, and a device cannot choose it: each recording is run at several offsets (the
# audio delayed by 0-70 ms of silence), and the claims are about all of them.
GRID_OFFSETS_MS = (0, 10, 20, 30, 40, 50, 60, 70)
NEGATIVE_OFFSETS_MS = (0, 20, 40, 60)  # the negatives are long: fewer, spread over the grid


def run_file(detector: OpenWakeWordDetector, path: Path, offset_ms: int = 0) -> list[Detection]:
    """Detections in the recording at ``path``, delayed by ``offset_ms`` of silence; their
    sample numbers count from the recording's start."""
    delay = offset_ms * 16
    samples = np.concatenate([np.zeros(delay, dtype=np.int16), read_wav(path)])
    found: list[Detection] = []
    for i in range(0, samples.size, CAPTURE_FRAME):
        found += detector.process(samples[i : i + CAPTURE_FRAME])
    return [
        replace(d, end_sample=d.end_sample - delay, detected_sample=d.detected_sample - delay)
        for d in found
    ]


Run = tuple[dict[str, Any], int, list[Detection]]  # (clip, offset_ms, detections)


@pytest.fixture(scope="module")
def positive_runs(resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]]) -> list[Run]:
    folder, manifest = corpus
    return [
        (clip, offset, run_file(make_detector(resolved), folder / clip["file"], offset))
        for clip in manifest["positives"]
        for offset in GRID_OFFSETS_MS
    ]


def test_clean_phrases_wake_in_five_voices_wherever_they_fall(positive_runs: list[Run]) -> None:
    clean = [(c, found) for c, _, found in positive_runs if c["condition"] == "clean"]
    assert len({c["voice"] for c, _ in clean}) >= 3
    missed = [c["file"] for c, found in clean if not found]
    # measured: 1 miss in 80 (one voice's question, at one offset)
    assert len(missed) <= 2, missed
    assert all(len(found) <= 1 for _, found in clean)  # one phrase, one wake (refractory)


def test_most_phrases_wake_with_pink_noise_at_10_db(positive_runs: list[Run]) -> None:
    noisy = [found for c, _, found in positive_runs if c["snr_db"] == 10.0]
    assert len(noisy) == 10 * len(GRID_OFFSETS_MS)
    # measured: 70 of 80; openwakeword 0.6.0 itself (continuous inference) woke on 7 of 10
    assert sum(1 for found in noisy if found) >= 0.8 * len(noisy)


def test_the_question_after_the_phrase_starts_after_end_sample(positive_runs: list[Run]) -> None:
    """ "Hey Jarvis what are your opening hours" in one breath: uploading from end_sample
    on sends the question's first syllable, and not the whole wake phrase."""
    for clip, offset, found in positive_runs:
        if clip["variant"] != "question" or not found:
            continue
        d = found[0]
        assert d.end_sample <= clip["question_start_sample"], (clip["file"], offset)
        phrase_mid = (clip["phrase_start_sample"] + clip["phrase_end_sample"]) // 2
        assert d.end_sample >= phrase_mid, (clip["file"], offset)
        assert d.detected_sample > d.end_sample


def test_a_wake_comes_about_a_fifth_of_a_second_after_the_phrase(
    positive_runs: list[Run],
) -> None:
    late = [
        (c["file"], offset, (found[0].detected_sample - c["phrase_end_sample"]) / 16)
        for c, offset, found in positive_runs
        if found
    ]
    # measured: median 176 ms, the latest 459 ms (a noisy phrase); without the early looks
    # (whole frames only) 216 and 519
    assert all(ms < 520 for _, _, ms in late), max(late, key=lambda w: w[2])
    assert float(np.median([ms for _, _, ms in late])) <= 200


def test_early_looks_wake_sooner_than_whole_frames_on_the_same_phrases(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]], positive_runs: list[Run]
) -> None:
    """Fed 20 ms at a time (as the capture path feeds it), a rising score gets a look at
    each 20 ms of the next frame: the same phrases wake, never later and mostly sooner,
    than when the detector only sees whole 80 ms frames."""
    folder = corpus[0]
    gains = []
    for clip, offset, found in positive_runs:
        if clip["condition"] != "clean":
            continue
        samples = np.concatenate([np.zeros(offset * 16, np.int16), read_wav(folder / clip["file"])])
        detector = make_detector(resolved)
        whole = [
            d for i in range(0, samples.size, 1280) for d in detector.process(samples[i : i + 1280])
        ]
        assert detector.early_looks == 0  # never less than a frame at once: no looks
        assert bool(whole) == bool(found), (clip["file"], offset)
        if found:
            gain_ms = (whole[0].detected_sample - offset * 16 - found[0].detected_sample) / 16
            assert gain_ms >= 0, (clip["file"], offset, gain_ms)
            gains.append(gain_ms)
    # measured: 79 wakes, a median gain of 60 ms (the first look, 20 ms into the frame);
    # 3 came a frame or more sooner (a peak between frames, under the threshold at both)
    assert len(gains) >= 70 and float(np.median(gains)) >= 40, gains


@pytest.fixture(scope="module")
def false_wakes(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]]
) -> dict[int, list[tuple[str, str]]]:
    """(file, what was being said) of each wake in the negatives at each of
    NEGATIVE_OFFSETS_MS, by trigger_frames (1, the default, and 2). Both settings run in
    one detector as two copies of the model, each with its own trigger rule."""
    folder, manifest = corpus
    (model,) = resolved.models
    copies = {f"{model.label}@{n}": n for n in (1, 2)}
    both = replace(
        resolved,
        models=tuple(replace(model, label=k, trigger_frames=n) for k, n in copies.items()),
    )
    wakes: dict[int, list[tuple[str, str]]] = {n: [] for n in copies.values()}
    for offset in NEGATIVE_OFFSETS_MS:
        for clip in manifest["negatives"]:
            for d in run_file(make_detector(both), folder / clip["file"], offset):
                said = [
                    seg[3]
                    for seg in clip.get("segments", [])
                    if seg[0] <= d.detected_sample <= seg[1] + 16000
                ]
                wakes[copies[d.model]].append((clip["file"], said[-1] if said else "(nothing)"))
    return wakes


def test_no_wake_on_other_speech_or_noise_and_few_on_near_misses(
    corpus: tuple[Path, dict[str, Any]], false_wakes: dict[int, list[tuple[str, str]]]
) -> None:
    """The default setting, over six minutes of negatives at four offsets: no wake on other
    speech or noise. The pre-trained model takes a few near misses: "Hey darling" and "Hey
    jazz fans" in most runs (KNOWN_FALSE_TRIGGERS, counted per hour by the bench), another
    near miss rarely."""
    manifest = corpus[1]
    texts = {seg[3] for c in manifest["negatives"] for seg in c.get("segments", [])}
    assert {"Hey Travis, over here.", "Jars of honey are on the top shelf."} <= texts
    assert any(t.startswith("Hey service") for t in texts)
    assert sum(c["samples"] for c in manifest["negatives"]) / 16000 >= 300
    wakes = false_wakes[1]
    assert [w for w in wakes if w[1] not in NEAR_MISSES + KNOWN_FALSE_TRIGGERS] == []
    # measured: 2 in 24 minutes ("Hey service", "A jar of jam", both at 40 ms)
    assert len([w for w in wakes if w[1] in NEAR_MISSES]) <= 3, wakes


def test_two_trigger_frames_wake_on_far_fewer_near_misses(
    false_wakes: dict[int, list[tuple[str, str]]],
) -> None:
    """``trigger_frames: 2``, the README's setting for places full of talk."""
    two = false_wakes[2]
    assert [w for w in two if w[1] not in NEAR_MISSES + KNOWN_FALSE_TRIGGERS] == []
    # measured: 2 against 8 with one frame
    assert len(two) <= min(3, len(false_wakes[1]) // 2), two


def test_idle_skipping_changes_nothing_after_silence(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]]
) -> None:
    """The clean clips start with a second of silence: the idle detector skips it and
    still scores the phrase exactly as continuous inference does."""
    folder, manifest = corpus
    for clip in manifest["positives"][:4]:
        if clip["condition"] != "clean":
            continue
        samples = read_wav(folder / clip["file"])
        (idle, skipped), (continuous, _) = (
            scores_of(resolved, samples, idle=flag) for flag in (True, False)
        )
        assert skipped >= 10
        np.testing.assert_allclose(idle, continuous, atol=1e-4)


def test_idle_skipping_in_steady_noise_scores_as_continuous_inference(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]]
) -> None:
    """Noise from the first sample on: its frames are near the noise floor, so the idle
    detector skips them until the phrase; when the models start, what they score is what
    continuous inference scores (not features of silence where the noise was)."""
    folder, manifest = corpus
    noisy = [c for c in manifest["positives"] if c["snr_db"] == 10.0][:4]
    for clip in noisy:
        samples = read_wav(folder / clip["file"])
        (idle, skipped), (continuous, _) = (
            scores_of(resolved, samples, idle=flag) for flag in (True, False)
        )
        assert skipped >= 5, clip["file"]
        running = idle != 0.0
        assert running.sum() >= 10, clip["file"]
        np.testing.assert_allclose(idle[running], continuous[running], atol=1e-4)


def scores_of(
    resolved: ResolvedModels, samples: np.ndarray, *, idle: bool
) -> tuple[np.ndarray, int]:
    """hey_jarvis's score after every 80 ms frame of a fresh detector, and the frames it
    skipped."""
    det = make_detector(resolved, idle=idle)
    return trace_of(det, samples), det.skipped_frames


def trace_of(det: OpenWakeWordDetector, samples: np.ndarray) -> np.ndarray:
    """hey_jarvis's score after every 80 ms frame ``det`` processes of ``samples``."""
    trace = []
    for i in range(0, samples.size - 1279, 1280):
        det.process(samples[i : i + 1280])
        trace.append(det.last_scores["hey_jarvis"])
    return np.array(trace)


def test_after_a_reset_a_recording_scores_as_on_a_fresh_detector(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]]
) -> None:
    """The bench runs clip after clip on one detector: the noise floor of the clip before
    (here 5 s of pink noise) must not decide which frames the next one skips."""
    folder, manifest = corpus
    before = next(c for c in manifest["negatives"] if c["file"] == "neg-noise-pink.wav")
    clip = next(c for c in manifest["positives"] if c["snr_db"] == 10.0)
    used = make_detector(resolved)
    used.process(read_wav(folder / before["file"])[: 5 * 16000])
    used.reset()
    samples = read_wav(folder / clip["file"])
    traces = [trace_of(det, samples) for det in (used, make_detector(resolved))]
    assert traces[1].max() > 0.75
    np.testing.assert_array_equal(traces[0], traces[1])


def test_a_quiet_room_runs_the_models_on_few_frames(resolved: ResolvedModels) -> None:
    rng = np.random.default_rng(0)
    room = (rng.standard_normal(16000 * 20) * 20).astype(np.int16)  # about -64 dBFS
    det = make_detector(resolved)
    assert det.process(room) == []
    assert det.skipped_frames >= 0.9 * det.frames


def _click(samples: np.ndarray, at_sample: int) -> np.ndarray:
    """``samples`` with a 10 ms click (a tap on the case) at ``at_sample``."""
    out = samples.copy()
    burst = np.random.default_rng(3).standard_normal(160) * 8000
    out[at_sample : at_sample + 160] = np.clip(
        out[at_sample : at_sample + 160] + burst, -32768, 32767
    )
    return out


def test_a_click_in_a_quiet_room_does_not_start_the_models(resolved: ResolvedModels) -> None:
    rng = np.random.default_rng(0)
    room = (rng.standard_normal(16000 * 6) * 20).astype(np.int16)  # about -64 dBFS
    det = make_detector(resolved)
    assert det.process(_click(room, 16000 * 4)) == []
    assert det.skipped_frames == det.frames


def test_a_click_just_before_the_phrase_changes_nothing(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]]
) -> None:
    """The click alone does not start the models; the phrase 0.4 s later does, and they
    catch up on the frames since the click: the scores are those of continuous inference."""
    folder, manifest = corpus
    clip = next(c for c in manifest["positives"] if c["condition"] == "clean")
    samples = _click(read_wav(folder / clip["file"]), clip["phrase_start_sample"] - 6400)
    (idle, _), (continuous, _) = (scores_of(resolved, samples, idle=flag) for flag in (True, False))
    assert continuous.max() > 0.75
    np.testing.assert_allclose(idle, continuous, atol=1e-4)
