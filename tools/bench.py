"""Benchmarks: prints one JSON object (medians over repeats); --quick also writes
bench-output/bench.json and finishes in about 4 minutes.

Sections, each a function ``(quick) -> dict`` in a group; main merges their keys.
``--only NAME`` (repeatable) runs the sections of that group or that section alone, e.g.
``--only audio`` (the audio sections need only device/audio, not the daemon):

- audio / audio_cpu: ``audio_cpu_rtf``, CPU s per audio s of the capture path (channel
  pick, resampling to the 24 kHz upload rate and to 16 kHz for one fan-out subscriber,
  level, gate, pre-roll, chunking to bytes; process_time), over the committed 60 s
  shop-floor recording at its native rate. In the same run, alternating with it, the
  frozen copy of the pipeline of commit 3849407 (tools/bench_baseline_pipeline.py, its
  ``with_16k=True``): ``audio_cpu_baseline_rtf`` and ``audio_cpu_vs_baseline`` (ours /
  baseline). ``resample_rtf`` is the soxr part alone (16 kHz + 24 kHz), ``gate_rtf`` the
  rest of ours (level + gate + pre-roll + chunking);
- audio / gate_quality: upload_ratio (bytes uploaded with the gate / without) and
  speech_kept_ratio (speech ms uploaded / speech ms, against tools/bench_audio/speech.json);
- audio / playback_flush: playback_flush_ms, flush() to the last sample out, through a
  private PulseAudio daemon (tests/pulse.py), measured on the device's clock;
- tools / tools: tools.bench_tools.run(quick) if that module exists (merged).

Targets: upload_ratio <= 0.4 with speech_kept_ratio >= 0.99; playback_flush_ms <= 30;
audio_cpu_rtf <= 0.01 and audio_cpu_vs_baseline <= 0.5.

    python tools/bench.py --quick
    python tools/bench.py --only audio
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import statistics
import sys
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from device.audio.frames import SPEECH_RATE_HZ, AudioFrame  # noqa: E402
from device.audio.pipeline import WAKE_RATE_HZ, CapturePipeline  # noqa: E402
from device.audio.resample import StreamResampler, pick_channel  # noqa: E402
from device.audio.settings import GateSettings  # noqa: E402

AUDIO = ROOT / "tools/bench_audio"
FRAME_MS = 20
TARGETS = {
    "upload_ratio": ("<=", 0.4),
    "speech_kept_ratio": (">=", 0.99),
    "playback_flush_ms": ("<=", 30.0),
    "audio_cpu_rtf": ("<=", 0.01),
    "audio_cpu_vs_baseline": ("<=", 0.5),
    "start_to_ready_ms": ("<=", 1500.0),
    "security_exposure": ("<=", 2.5),
    "led_cpu_rtf": ("<=", 0.003),
    "metrics_overhead_rtf": ("<=", 0.001),
    "disclosure_cost_ms": ("<=", 20.0),
}


def load_recording() -> tuple[bytes, int, dict[str, Any]]:
    with wave.open(str(AUDIO / "shop60.wav"), "rb") as w:
        pcm, rate = w.readframes(w.getnframes()), w.getframerate()
    truth = json.loads((AUDIO / "speech.json").read_text())
    return pcm, rate, truth


def frames_of(pcm: bytes, rate: int) -> list[AudioFrame]:
    step = rate * FRAME_MS // 1000 * 2
    return [
        AudioFrame(pcm[i : i + step], rate, 1, i / 2 * 1000 / rate)
        for i in range(0, len(pcm), step)
    ]


def cpu_s(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def audio_cpu(quick: bool) -> dict[str, Any]:
    from tools.bench_baseline_pipeline import BaselineCapturePipeline

    pcm, rate, truth = load_recording()
    frames = frames_of(pcm, rate)
    audio_s = truth["duration_ms"] / 1000.0
    repeats = 7 if quick else 15

    def resample_only() -> None:
        to_16k = StreamResampler(rate, WAKE_RATE_HZ)
        to_upload = StreamResampler(rate, SPEECH_RATE_HZ)
        for f in frames:
            mono = pick_channel(f.pcm, 1, 0)
            to_16k.process(mono)
            to_upload.process(mono)

    def ours() -> None:
        pipe = CapturePipeline(rate, 1, 0, GateSettings(), 40, upload_rate_hz=SPEECH_RATE_HZ)
        pipe.subscribe_16k(_wake_word_stand_in)
        for f in frames:
            pipe.process(f)

    def baseline() -> None:
        pipe = BaselineCapturePipeline(rate, 1, 0, GateSettings(), 40, with_16k=True)
        for f in frames:
            pipe.process(f)

    times: dict[str, list[float]] = {"ours": [], "baseline": [], "resample": []}
    for i in range(repeats):  # alternating, so a busy moment hits both alike
        order = [("ours", ours), ("baseline", baseline), ("resample", resample_only)]
        for name, fn in order if i % 2 == 0 else order[::-1]:
            times[name].append(cpu_s(fn))
    rtf = {name: statistics.median(values) / audio_s for name, values in times.items()}
    return {
        "audio_cpu_rtf": round(rtf["ours"], 5),
        "audio_cpu_baseline_rtf": round(rtf["baseline"], 5),
        "audio_cpu_vs_baseline": round(rtf["ours"] / rtf["baseline"], 3),
        "resample_rtf": round(rtf["resample"], 5),
        "gate_rtf": round(max(0.0, rtf["ours"] - rtf["resample"]), 5),
        "audio_cpu_repeats": repeats,
    }


def _wake_word_stand_in(samples: np.ndarray) -> None:
    """A 16 kHz subscriber doing nothing: its own work is its own bench's, not capture's."""


def gate_quality(quick: bool) -> dict[str, Any]:
    pcm, rate, truth = load_recording()
    frames = frames_of(pcm, rate)
    gated = CapturePipeline(rate, 1, 0, GateSettings(), 40, upload_rate_hz=SPEECH_RATE_HZ)
    gated.trace = []
    ungated = CapturePipeline(
        rate, 1, 0, GateSettings(enabled=False), 40, upload_rate_hz=SPEECH_RATE_HZ
    )
    for f in frames:
        gated.process(f)
        ungated.process(f)
    # which 10 ms blocks of the recording were uploaded (upload-rate positions -> ms)
    sent = np.zeros(truth["duration_ms"] // 10 + 2, dtype=bool)
    for first, n in gated.trace:
        a = first * 1000 // SPEECH_RATE_HZ // 10
        b = ((first + n) * 1000 // SPEECH_RATE_HZ + 9) // 10
        sent[a:b] = True
    speech = np.zeros_like(sent)
    for a, b in truth["speech_spans_ms"]:
        speech[a // 10 : b // 10] = True
    kept = int((speech & sent).sum()) * 10
    return {
        "upload_ratio": round(gated.uploaded_bytes / ungated.uploaded_bytes, 4),
        "speech_kept_ratio": round(kept / truth["speech_ms"], 4),
        "speech_ms": truth["speech_ms"],
        "uploaded_ms": gated.uploaded_bytes * 1000 // (SPEECH_RATE_HZ * 2),
        "recording_ms": truth["duration_ms"],
    }


async def _flush_once(speaker: Any) -> float:
    t = np.arange(SPEECH_RATE_HZ) / SPEECH_RATE_HZ
    speaker.write("bench", (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes())
    deadline = time.monotonic() + 5
    while speaker.played_ms("bench") < 300 and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    speaker.flush()
    flush_ms = float(speaker.last_flush_ms or 0.0)
    await asyncio.wait_for(speaker.wait_idle(), 2)
    return flush_ms


def playback_flush(quick: bool) -> dict[str, Any]:
    from device.audio.pyaudio_io import PyAudioSpeaker
    from device.audio.settings import PyAudioOutput
    from tests.pulse import PulseServer

    repeats = 11 if quick else 21
    with PulseServer():
        settings = PyAudioOutput(rate_hz=48000, buffer_ms=10)

        async def run() -> list[float]:
            speaker = PyAudioSpeaker(settings)
            try:
                if not await asyncio.to_thread(speaker.wait_open, 15):
                    raise RuntimeError(f"speaker did not start: {speaker.error}")
                return [await _flush_once(speaker) for _ in range(repeats)]
            finally:
                await speaker.close()

        values = asyncio.run(run())
    return {
        "playback_flush_ms": round(statistics.median(values), 2),
        "playback_flush_ms_max": round(max(values), 2),
        "playback_flush_repeats": repeats,
        "playback_buffer_ms": settings.buffer_ms,
    }


def tools_section(quick: bool) -> dict[str, Any]:
    try:
        module = importlib.import_module("tools.bench_tools")
    except ModuleNotFoundError:
        return {}
    result: dict[str, Any] = module.run(quick)
    return result


Section = Callable[[bool], dict[str, Any]]

# (group, name, function): other groups (wake word, VAD, ...) add their own rows
SECTIONS: list[tuple[str, str, Section]] = [
    ("audio", "audio_cpu", audio_cpu),
    ("audio", "gate_quality", gate_quality),
    ("audio", "playback_flush", playback_flush),
    ("tools", "tools", tools_section),
    # the always-there link (tools/bench_link.py): latencies, then the fault soak
    ("link", "link_latency", lambda q: importlib.import_module("tools.bench_link").latency(q)),
    ("link", "link_soak", lambda q: importlib.import_module("tools.bench_link").soak(q)),
    # wake word against the peer engine (tools/bench_wake.py; its targets: wake_targets_met)
    ("wake", "wake", lambda q: importlib.import_module("tools.bench_wake").run(q)),
    # barge-in and echo (tools/bench_vad.py; its targets: vad_targets_met)
    ("vad", "vad", lambda q: importlib.import_module("tools.bench_vad").run(q)),
    # software mode without echo.raw_input: barge-in on the cancelled source (slow)
    (
        "vad",
        "vad_software_plain",
        lambda q: importlib.import_module("tools.bench_vad").run_software_plain(q),
    ),
    # the appliance: process start to READY=1 (tools/bench_daemon.py), the unit's exposure
    ("daemon", "start_to_ready", lambda q: importlib.import_module("tools.bench_daemon").run(q)),
    ("daemon", "security", lambda q: importlib.import_module("tools.bench_systemd").run()),
    # the LED service at 30 fps on a 12-pixel APA102 ring (tools/bench_leds.py)
    ("leds", "leds", lambda q: importlib.import_module("tools.bench_leds").run(q)),
    # the metrics service during a conversation, scraped once a second (tools/bench_metrics.py)
    ("metrics", "metrics", lambda q: importlib.import_module("tools.bench_metrics").run(q)),
    # wake to the first caller audio uploaded, with and without the disclosure (bench_disclosure)
    ("daemon", "disclosure", lambda q: importlib.import_module("tools.bench_disclosure").run(q)),
]


def selected(only: list[str] | None) -> list[tuple[str, Section]]:
    """The sections ``--only`` names (by group or by name); all of them when none."""
    known = {g for g, _, _ in SECTIONS} | {n for _, n, _ in SECTIONS}
    unknown = sorted(set(only or ()) - known)
    if unknown:
        raise SystemExit(f"bench: no section or group named {', '.join(unknown)}")
    return [(n, fn) for g, n, fn in SECTIONS if not only or g in only or n in only]


def check_targets(result: dict[str, Any]) -> dict[str, bool]:
    met = {}
    for key, (op, limit) in TARGETS.items():
        if key in result:
            met[key] = result[key] <= limit if op == "<=" else result[key] >= limit
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; write bench.json")
    parser.add_argument(
        "--only", action="append", help="run only this group or section (repeatable)"
    )
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    errors: dict[str, str] = {}
    wall_s: dict[str, float] = {}
    for name, section in selected(args.only):
        start = time.monotonic()
        try:
            result.update(section(args.quick))
        except Exception as exc:  # one broken section does not hide the others
            errors[name] = f"{type(exc).__name__}: {exc}"
        wall_s[name] = round(time.monotonic() - start, 1)
    result["bench_section_wall_s"] = wall_s
    result["targets_met"] = check_targets(result)
    if errors:
        result["errors"] = errors
    text = json.dumps(result, sort_keys=True)
    print(text)
    if args.quick:
        out = ROOT / "bench-output"
        out.mkdir(exist_ok=True)
        (out / "bench.json").write_text(text + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
