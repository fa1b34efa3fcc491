"""The real hey_jarvis model on espeak-ng speech: it wakes on the phrase, not on the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.wake.detector import Detection
from device.wake.models import ResolvedModels
from device.wake.oww import OpenWakeWordDetector
from tests.wake.conftest import make_detector
from tools.make_wake_audio import KNOWN_FALSE_TRIGGERS, read_wav

CAPTURE_FRAME = 320  # 20 ms: what the capture fan-out hands over


def run_file(detector: OpenWakeWordDetector, path: Path) -> list[Detection]:
    samples = read_wav(path)
    found: list[Detection] = []
    for i in range(0, samples.size, CAPTURE_FRAME):
        found += detector.process(samples[i : i + CAPTURE_FRAME])
    return found


@pytest.fixture(scope="module")
def positive_runs(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]]
) -> list[tuple[dict[str, Any], list[Detection]]]:
    folder, manifest = corpus
    return [
        (clip, run_file(make_detector(resolved), folder / clip["file"]))
        for clip in manifest["positives"]
    ]


def test_every_clean_phrase_wakes_in_five_voices(positive_runs: Any) -> None:
    clean = [(c, found) for c, found in positive_runs if c["condition"] == "clean"]
    assert len({c["voice"] for c, _ in clean}) >= 3
    missed = [c["file"] for c, found in clean if not found]
    assert missed == []
    assert all(len(found) == 1 for _, found in clean)  # one phrase, one wake (refractory)


def test_most_phrases_wake_with_pink_noise_at_10_db(positive_runs: Any) -> None:
    noisy = [(c, found) for c, found in positive_runs if c["snr_db"] == 10.0]
    woke = sum(1 for _, found in noisy if found)
    assert len(noisy) == 10
    # measured: 7 of 10, as openwakeword 0.6.0 itself (continuous inference) at 0.75
    assert woke >= 7, [c["file"] for c, found in noisy if not found]


def test_the_question_after_the_phrase_starts_after_end_sample(positive_runs: Any) -> None:
    """ "Hey Jarvis what are your opening hours" in one breath: uploading from end_sample
    on sends the question's first syllable, and not the whole wake phrase."""
    for clip, found in positive_runs:
        if clip["variant"] != "question" or not found:
            continue
        d = found[0]
        assert d.end_sample <= clip["question_start_sample"], clip["file"]
        phrase_mid = (clip["phrase_start_sample"] + clip["phrase_end_sample"]) // 2
        assert d.end_sample >= phrase_mid, clip["file"]
        assert d.detected_sample > d.end_sample


def test_wake_latency_is_under_half_a_second(positive_runs: Any) -> None:
    late = [
        (c["file"], (found[0].detected_sample - c["phrase_end_sample"]) / 16)
        for c, found in positive_runs
        if found
    ]
    assert all(ms < 500 for _, ms in late), late
    assert float(np.median([ms for _, ms in late])) <= 300


def _false_wakes(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]], trigger_frames: int | None
) -> tuple[list[tuple[str, str]], float]:
    """(file, what was being said) of each wake in the negatives; their length in s."""
    folder, manifest = corpus
    wakes = []
    for clip in manifest["negatives"]:
        detector = make_detector(resolved, trigger_frames=trigger_frames)
        for d in run_file(detector, folder / clip["file"]):
            said = [
                seg[3]
                for seg in clip.get("segments", [])
                if seg[0] <= d.detected_sample <= seg[1] + 16000
            ]
            wakes.append((clip["file"], said[-1] if said else "(nothing)"))
    return wakes, sum(c["samples"] for c in manifest["negatives"]) / 16000


def test_no_wake_in_six_minutes_of_other_speech_near_misses_and_noise(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]]
) -> None:
    """The default setting: no wake on other speech, near misses or noise, except on the
    near misses the pre-trained model is known to take in some voices ("Hey darling",
    "Hey jazz fans": KNOWN_FALSE_TRIGGERS, counted per hour by the bench)."""
    manifest = corpus[1]
    texts = {seg[3] for c in manifest["negatives"] for seg in c.get("segments", [])}
    assert {"Hey Travis, over here.", "Jars of honey are on the top shelf."} <= texts
    assert any(t.startswith("Hey service") for t in texts)
    wakes, total_s = _false_wakes(resolved, corpus, None)
    assert total_s >= 300
    assert [w for w in wakes if w[1] not in KNOWN_FALSE_TRIGGERS] == []


def test_two_trigger_frames_wake_on_nothing_but_the_phrase(
    resolved: ResolvedModels, corpus: tuple[Path, dict[str, Any]]
) -> None:
    """``trigger_frames: 2``, the README's setting for places full of talk."""
    assert _false_wakes(resolved, corpus, 2)[0] == []


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
