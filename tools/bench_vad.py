"""Barge-in benchmarks (issue 15): local speech detection, echo, the playback clock.

``run(quick)`` returns one dict (tools/bench.py merges it into its JSON):

- ``vad_rtf``: CPU seconds per audio second of the local detector (Silero through
  onnxruntime, one thread, plus the decisions) on the 60 s shop-floor recording;
  ``vad_rtf_reference``: the same in reference mode (echo estimate and suppression too);
  ``vad_rtf_reference_no_echo``: reference mode on a mic that does not hear the speaker
  (the recording in the mic, another reply playing: the echo path's ceiling learnt);
- through the PulseAudio echo rig (tests/vad/rig.py: reply echo peaking at -12 dBFS at the
  mic; software = WebRTC module-echo-cancel with ``raw_input`` (below), hardware = a mic
  array's processed channel,
  reference = the raw mic weighed against the playback), detector level:
  ``self_interrupts`` (replies with a detection, nobody speaking, per mode),
  ``false_barge_ins_noise`` (the same with a door slam, a cough or a passing trolley in
  each reply, peaking at -12 dBFS), ``barge_in_stop_ms`` (p50/p95 per mode: the caller's
  speech onset in the mic signal, by its ADC time, to the last reply sample out of the
  speaker, by its DAC time, with local detection calling speaker.flush()) and
  ``truncate_error_ms`` (p50/p95: |heard_ms after the flush - where the recording of the
  speaker says the reply stopped|); ``speaker_underflows``: speaker callbacks PortAudio
  flagged late in the trials (the card ran dry: what the sound server dropped then was
  counted as heard, so a truncation error beside a count here is the machine's load).

Mics that hear the speaker weakly or not at all (issue 26), reference mode (the default),
each rig its own session from a cold start (nothing learnt): ``..._no_echo`` (no echo
path: a headset, a mic array with its own canceller) and ``..._30db`` (the speaker 30 dB
down in the mic): ``self_interrupts_reference_no_echo`` / ``_30db`` (replies with a
detection, nobody speaking, the first reply of the day first),
``barge_in_stop_ms_reference_no_echo`` / ``_30db`` (p50/p95/n, timed as above) and
``barge_in_missed_reference_no_echo`` / ``_30db``.

Targets: barge_in_stop_ms p95 <= 150; truncate_error_ms p95 <= 40; self_interrupts 0 in
20 replies (software, reference, hardware); false_barge_ins_noise <= 1 in 20; vad_rtf <=
0.02; on the no-echo and -30 dB rigs (``weak_echo``) stop p95 <= 150, no self-interrupt
and no caller missed. ``--quick`` plays 2 echo-only and 2 noise replies (each ending 0.5 s after its
noise) instead of 20 each, and 7 interruptions per mode instead of 20, the caller cutting
in earlier (about 60 s), and on each weak-echo rig 1 echo-only reply and 4 interruptions
instead of 10 and 12 (about 35 s for both).
``barge_in_hiccups``: suspected barge-ins that paused a reply and let it go on (the
``hold_threshold``/``hold_ms`` pause), per mode: over the echo-only and the noise replies
(detector level, like the counts beside them), in the trials (the armed mode pausing the
real speaker), and the longest such pause. ``--set key=value`` measures another
``audio.barge_in`` setting (tuning).

``software`` is measured as the README sets it up: ``echo.raw_input``, the detector on
the raw mic under the canceller (its master source, whose volume the canceller sets)
weighed against the playback, the canceller with analog gain control off
(``--software-plain`` for all of ``run``'s keys with the detector on the cancelled source
instead). ``run_software_plain(quick)``: that variant, which check-config notes as slow,
beside them: ``barge_in_stop_ms_software_plain``, ``self_interrupts_software_plain``,
``false_barge_ins_noise_software_plain``, ``barge_in_missed_software_plain`` (trials of
that mode only: 3 of them with ``--quick``, about 15 s; not in ``vad_targets_met``).

``--with-leds``: the same with a 12-LED APA102 ring spinning at 30 fps beside it (the LED
service on its own loop and thread, tools/bench_leds.py): the figures must not move.

    python tools/bench_vad.py [--quick] [--software-plain] [--with-leds]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from device.vad.detector import SpeechDetector  # noqa: E402
from device.vad.echo import EchoReference  # noqa: E402
from device.vad.settings import BargeInSettings, EchoMode  # noqa: E402
from device.vad.silero import SileroModel  # noqa: E402

RECORDING = ROOT / "tools/bench_audio/shop60.wav"
NOISES = [("door_slam", 1.0), ("cough", 1.5), ("trolley", 0.8)]


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


def vad_cpu(quick: bool) -> dict[str, Any]:
    with wave.open(str(RECORDING), "rb") as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        assert w.getframerate() == 16000
    audio_s = len(audio) / 16000
    model = SileroModel()
    frames = [audio[i : i + 320] for i in range(0, len(audio), 320)]

    def plain() -> None:
        model.reset()
        detector = SpeechDetector(model.probability, BargeInSettings())
        for f in frames:
            detector.feed(f)

    def reference() -> None:  # the recording as the reference of its own 40 ms echo
        model.reset()
        echo = EchoReference(max_delay_ms=500)
        detector = SpeechDetector(
            model.probability, BargeInSettings(), echo=echo, reset=model.reset
        )
        mic = np.concatenate([np.zeros(640, np.int16), (audio // 4).astype(np.int16)])
        for i, f in enumerate(frames):
            echo.add_played(f, i * 320)
            echo.add_mic(mic[i * 320 : i * 320 + 320], i * 320)
            detector.feed(mic[i * 320 : i * 320 + 320])

    def reference_no_echo() -> None:  # the mic hears the room, not what the speaker plays
        model.reset()
        echo = EchoReference(max_delay_ms=500)
        detector = SpeechDetector(
            model.probability, BargeInSettings(), echo=echo, reset=model.reset
        )
        played = audio[::-1]
        for i, f in enumerate(frames):
            echo.add_played(played[i * 320 : i * 320 + 320], i * 320)
            echo.add_mic(f, i * 320)
            detector.feed(f)

    repeats = 2 if quick else 5
    result = {}
    for key, fn in (
        ("vad_rtf", plain),
        ("vad_rtf_reference", reference),
        ("vad_rtf_reference_no_echo", reference_no_echo),
    ):
        runs = []
        for _ in range(repeats):
            start = time.process_time()
            fn()
            runs.append((time.process_time() - start) / audio_s)
        result[key] = round(statistics.median(runs), 4)
    return result


def _resumed(rig: Any) -> dict[str, int]:
    return {m: d.listener.holds_resumed for m, d in rig.detectors.items()}


async def _rig(
    quick: bool,
    workdir: Path,
    barge_in: BargeInSettings,
    software_raw: bool = False,
    trial_modes: tuple[EchoMode, ...] | None = None,
    quick_trials: int = 7,  # a p95 of 7 or 8 is their slowest either way
    quick_replies: tuple[int, int] = (2, 2),
) -> dict[str, Any]:
    from tests.pulse import PulseServer
    from tests.vad.rig import MODES, EchoRig
    from tests.vad.sounds import make_sounds

    # quick: fewer echo-only replies (no mode has ever interrupted itself in them; the noise
    # replies and the trials play the echo too), the caller earlier into a reply
    self_replies, replies = quick_replies if quick else (20, 20)
    trials = quick_trials if quick else 20
    first_s, step_s = (0.5, 0.2) if quick else (1.0, 0.37)
    sounds = make_sounds(workdir / "sounds", repeatable=False)  # a new draw of noises per run
    took: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        took[name] = round(time.monotonic() - clock, 1)
        clock = time.monotonic()

    with PulseServer() as pulse:
        # each mode's own default confirmation (BargeInSettings.confirm_ms: software 64 ms)
        async with EchoRig(
            pulse, sounds, workdir=workdir, barge_in=barge_in, software_raw=software_raw
        ) as rig:
            lap("setup")
            clicks = 1 if quick else 3
            delays = [await rig.canceller_delay_ms(sounds.noises["click"]) for _ in range(clicks)]
            lap("canceller_delay")
            before = _resumed(rig)
            self_hits = await rig.replies(self_replies)
            middle = _resumed(rig)
            # quick: a noise reply ends 0.5 s after its noise (the trolley's is 2.5 s long)
            noise_hits = await rig.replies(
                replies, NOISES, cut_after_noise_s=0.5 if quick else None
            )
            after = _resumed(rig)
            self_hiccups = {m: middle[m] - before[m] for m in MODES}
            noise_hiccups = {m: after[m] - middle[m] for m in MODES}
            paused: dict[str, int] = {}
            if not quick:  # reference mode judges a noise differently once the reply pauses
                assert rig.speaker is not None
                resumed = rig.speaker.holds_resumed
                hits = await rig.replies(replies, NOISES, armed="reference")
                paused = {
                    "reference": hits["reference"],
                    "hiccups": rig.speaker.holds_resumed - resumed,
                }
            lap("replies")
            trial_hiccups: dict[str, int] = dict.fromkeys(MODES, 0)
            stops: dict[str, list[float]] = {m: [] for m in MODES}
            errors: list[float] = []
            missed: dict[str, int] = dict.fromkeys(MODES, 0)
            early: dict[str, int] = dict.fromkeys(MODES, 0)
            underflows = rig.speaker.underflows if rig.speaker is not None else 0
            for k in range(trials):
                for mode in trial_modes or MODES:
                    resumed = rig.speaker.holds_resumed if rig.speaker is not None else 0
                    trial = await rig.barge_in(mode, k, first_s + step_s * (k % 4))
                    if rig.speaker is not None:
                        trial_hiccups[mode] += rig.speaker.holds_resumed - resumed
                    if trial.early:
                        early[mode] += 1
                        continue
                    if not trial.detected or trial.stop_ms is None:
                        missed[mode] += 1
                        continue
                    stops[mode].append(trial.stop_ms)
                    if trial.truncate_error_ms is not None:
                        errors.append(trial.truncate_error_ms)
            if rig.speaker is not None:
                underflows = rig.speaker.underflows - underflows
            lap("trials")
            ref = rig.detectors["reference"].listener.echo
    return {
        "self_interrupts": self_hits,
        "false_barge_ins_noise": noise_hits,
        # (full run) the same noises with reference mode pausing and flushing the real
        # speaker as the daemon does: replies cut off, and pauses that went on
        **({"false_barge_ins_noise_paused": paused} if paused else {}),
        # suspicions that paused a reply and let it go on (a pause the listener hears):
        # over the replies above (detector level), and in the barge-in trials (the armed
        # mode pausing the real speaker: before the caller, or unconfirmed in time)
        "barge_in_hiccups": {
            "self": self_hiccups,
            "noise": noise_hiccups,
            "trials": trial_hiccups,
            # the longest such pause in the whole run (by the detector's windows, per mode)
            "longest_ms": {
                m: round(d.listener.longest_hiccup_ms) for m, d in rig.detectors.items()
            },
        },
        "barge_in_replies": {"self": self_replies, "noise": replies},
        "barge_in_stop_ms": {
            m: {"p50": _pct(v, 50), "p95": _pct(v, 95), "n": len(v)} for m, v in stops.items()
        },
        "barge_in_missed": missed,
        "barge_in_self_interrupted": early,  # in the trials, before the caller spoke
        "truncate_error_ms": {"p50": _pct(errors, 50), "p95": _pct(errors, 95), "n": len(errors)},
        # speaker callbacks PortAudio flagged late during the trials (the card ran dry)
        "speaker_underflows": underflows,
        "echo_delay_ms_reference": None if ref is None else ref.delay_ms,
        # software: how much later a sound reaches the device through module-echo-cancel
        # than from the raw mic (median of 3 clicks, quick: 1; by ADC time, by arrival)
        "vad_bench_s": took,  # where the rig's time went
        "canceller_delay_ms": {
            "adc": round(statistics.median(d[0] for d in delays), 1),
            "arrival": round(statistics.median(d[1] for d in delays), 1),
        },
    }


WEAK_ECHO_RIGS: tuple[tuple[str, float | None], ...] = (("no_echo", None), ("30db", -30.0))


async def _weak_echo_rigs(quick: bool, workdir: Path, barge_in: BargeInSettings) -> dict[str, Any]:
    """Reference mode on mics that hear the speaker weakly or not at all: per rig (a cold
    start each), echo-only replies, then barge-in trials (see the module docstring)."""
    from tests.pulse import PulseServer
    from tests.vad.rig import EchoRig
    from tests.vad.sounds import make_sounds

    self_replies, trials = (1, 4) if quick else (10, 12)
    first_s, step_s = (0.5, 0.2) if quick else (1.0, 0.37)
    sounds = make_sounds(workdir / "sounds", repeatable=False)
    result: dict[str, Any] = {}
    with PulseServer() as pulse:
        for name, gain_db in WEAK_ECHO_RIGS:
            async with EchoRig(
                pulse, sounds, workdir=workdir, barge_in=barge_in, echo_gain_db=gain_db
            ) as rig:
                hits = await rig.replies(self_replies)
                stops: list[float] = []
                missed = early = 0
                for k in range(trials):
                    trial = await rig.barge_in("reference", k, first_s + step_s * (k % 4))
                    if trial.early:
                        early += 1
                    elif not trial.detected or trial.stop_ms is None:
                        missed += 1
                    else:
                        stops.append(trial.stop_ms)
            result[f"self_interrupts_reference_{name}"] = hits["reference"] + early
            result[f"barge_in_stop_ms_reference_{name}"] = {
                "p50": _pct(stops, 50),
                "p95": _pct(stops, 95),
                "n": len(stops),
            }
            result[f"barge_in_missed_reference_{name}"] = missed
    return result


def targets_met(result: dict[str, Any]) -> dict[str, bool]:
    met: dict[str, bool] = {}
    if "vad_rtf" in result:
        met["vad_rtf"] = result["vad_rtf"] <= 0.02
    if "self_interrupts" in result:
        met["self_interrupts"] = all(v == 0 for v in result["self_interrupts"].values())
        noise = result["false_barge_ins_noise"]
        paused = result.get("false_barge_ins_noise_paused", {}).get("reference", 0)
        met["false_barge_ins_noise"] = all(v <= 1 for v in noise.values()) and paused <= 1
        met["barge_in_stop_ms"] = all(
            v["p95"] <= 150 for v in result["barge_in_stop_ms"].values() if v["n"]
        )
        met["truncate_error_ms"] = result["truncate_error_ms"]["p95"] <= 40
    weak = [name for name, _ in WEAK_ECHO_RIGS if f"self_interrupts_reference_{name}" in result]
    if weak:
        met["weak_echo"] = all(
            result[f"self_interrupts_reference_{n}"] == 0
            and result[f"barge_in_missed_reference_{n}"] == 0
            and result[f"barge_in_stop_ms_reference_{n}"]["n"] > 0
            and result[f"barge_in_stop_ms_reference_{n}"]["p95"] <= 150
            for n in weak
        )
    return met


def run(
    quick: bool, barge_in: BargeInSettings | None = None, *, software_raw: bool = True
) -> dict[str, Any]:
    """``software_raw``: the software mode's figures are those of ``echo.raw_input`` (its
    detector on the raw mic under the canceller, the canceller as the README sets it);
    False: of the detector on the cancelled source (the canceller's defaults)."""
    barge_in = barge_in or BargeInSettings()
    result = vad_cpu(quick)
    with tempfile.TemporaryDirectory(prefix="bench-vad-") as tmp:
        result.update(asyncio.run(_rig(quick, Path(tmp), barge_in, software_raw)))
    with tempfile.TemporaryDirectory(prefix="bench-vad-weak-") as tmp:
        result.update(asyncio.run(_weak_echo_rigs(quick, Path(tmp), barge_in)))
    result["software_raw"] = software_raw
    result["vad_targets_met"] = targets_met(result)
    return result


def run_software_plain(quick: bool) -> dict[str, Any]:
    """``software`` without ``echo.raw_input`` (the detector trusting the cancelled source,
    the canceller's defaults), beside ``run``: its own keys (``..._software_plain``),
    barge-in trials of that mode only."""
    with tempfile.TemporaryDirectory(prefix="bench-vad-plain-") as tmp:
        rig = asyncio.run(
            _rig(  # not a target: in --quick, 3 trials tell slow from fast, 1 + 1 replies
                quick,
                Path(tmp),
                BargeInSettings(),
                False,
                ("software",),
                quick_trials=3,
                quick_replies=(1, 1),
            )
        )
    keys = ("barge_in_stop_ms", "self_interrupts", "false_barge_ins_noise", "barge_in_missed")
    return {f"{k}_software_plain": rig[k]["software"] for k in keys}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 + 3 replies, 8 interruptions per mode; weak-echo rigs: 1 reply, 4 interruptions",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an audio.barge_in setting to measure instead of its default (tuning)",
    )
    parser.add_argument(
        "--with-leds",
        action="store_true",
        help="a 12-LED ring animating at 30 fps beside the detector (its figures must hold)",
    )
    parser.add_argument(
        "--software-plain",
        action="store_true",
        help="software mode without echo.raw_input: barge-in on the cancelled source",
    )
    args = parser.parse_args(argv)
    fields = {f.name: f.type for f in dataclasses.fields(BargeInSettings)}
    changes: dict[str, Any] = {}  # (a --set min_speech_ms is every mode's, software's too)
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in fields or not value:
            parser.error(f"--set {item}: not KEY=VALUE of audio.barge_in ({', '.join(fields)})")
        kind = str(fields[key])
        try:
            number = float(value) if kind != "bool" else 0.0
        except ValueError:
            parser.error(f"--set {item}: {value!r} is not a number")
        changes[key] = (
            value.lower() == "true" if kind == "bool" else int(number) if kind == "int" else number
        )
    with contextlib.ExitStack() as beside:
        if args.with_leds:
            from tools.bench_leds import spinning_ring

            ring = beside.enter_context(spinning_ring())
        result = run(args.quick, BargeInSettings(**changes), software_raw=not args.software_plain)
        if args.with_leds:
            result["leds_frames_written"] = ring.stats().frames_written
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
