"""Benchmarks: prints one JSON object (medians over repeats); --quick also writes
bench-output/bench.json and finishes in under 2 minutes.

Sections (each a named function returning metrics):

- audio_cpu: resample_rtf (CPU s per audio s, native 16 kHz -> 16 kHz + 24 kHz) and
  gate_rtf (level + gate + pre-roll + chunking), on the committed shop-floor recording;
- gate_quality: upload_ratio (bytes uploaded with the gate / without) and speech_kept_ratio
  (speech ms uploaded / speech ms, against tools/bench_audio/speech.json);
- playback_flush: playback_flush_ms, flush() to the last sample out, through a private
  PulseAudio daemon (tests/pulse.py), measured on the device's clock;
- tools: tools.bench_tools.run(quick) if that module exists (merged).

Targets: upload_ratio <= 0.4 with speech_kept_ratio >= 0.99; playback_flush_ms <= 30;
resample_rtf + gate_rtf <= 0.01.

    python tools/bench.py --quick
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

from device.audio.frames import LINK_RATE_HZ, AudioFrame  # noqa: E402
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
    pcm, rate, truth = load_recording()
    frames = frames_of(pcm, rate)
    audio_s = truth["duration_ms"] / 1000.0
    repeats = 3 if quick else 7

    def resample_only() -> None:
        to_16k, to_24k = StreamResampler(rate, WAKE_RATE_HZ), StreamResampler(rate, LINK_RATE_HZ)
        for f in frames:
            mono = pick_channel(f.pcm, 1, 0)
            to_16k.process(mono).tobytes()
            to_24k.process(mono).tobytes()

    def whole_pipeline() -> None:
        pipe = CapturePipeline(rate, 1, 0, GateSettings(), 40, with_16k=True)
        for f in frames:
            pipe.process(f)

    resample = statistics.median(cpu_s(resample_only) for _ in range(repeats)) / audio_s
    whole = statistics.median(cpu_s(whole_pipeline) for _ in range(repeats)) / audio_s
    gate = max(0.0, whole - resample)
    return {
        "resample_rtf": round(resample, 5),
        "gate_rtf": round(gate, 5),
        "audio_cpu_rtf": round(resample + gate, 5),
        "audio_cpu_repeats": repeats,
    }


def gate_quality(quick: bool) -> dict[str, Any]:
    pcm, rate, truth = load_recording()
    frames = frames_of(pcm, rate)
    gated = CapturePipeline(rate, 1, 0, GateSettings(), 40)
    gated.trace = []
    ungated = CapturePipeline(rate, 1, 0, GateSettings(enabled=False), 40)
    for f in frames:
        gated.process(f)
        ungated.process(f)
    # which 10 ms blocks of the recording were uploaded (24 kHz positions -> ms)
    sent = np.zeros(truth["duration_ms"] // 10 + 2, dtype=bool)
    for first, n in gated.trace:
        a, b = first * 1000 // LINK_RATE_HZ // 10, ((first + n) * 1000 // LINK_RATE_HZ + 9) // 10
        sent[a:b] = True
    speech = np.zeros_like(sent)
    for a, b in truth["speech_spans_ms"]:
        speech[a // 10 : b // 10] = True
    kept = int((speech & sent).sum()) * 10
    return {
        "upload_ratio": round(gated.uploaded_bytes / ungated.uploaded_bytes, 4),
        "speech_kept_ratio": round(kept / truth["speech_ms"], 4),
        "speech_ms": truth["speech_ms"],
        "uploaded_ms": gated.uploaded_bytes * 1000 // (LINK_RATE_HZ * 2),
        "recording_ms": truth["duration_ms"],
    }


async def _flush_once(speaker: Any) -> float:
    t = np.arange(LINK_RATE_HZ) / LINK_RATE_HZ
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


SECTIONS: list[tuple[str, Callable[[bool], dict[str, Any]]]] = [
    ("audio_cpu", audio_cpu),
    ("gate_quality", gate_quality),
    ("playback_flush", playback_flush),
    ("tools", tools_section),
]


def check_targets(result: dict[str, Any]) -> dict[str, bool]:
    met = {}
    for key, (op, limit) in TARGETS.items():
        if key in result:
            met[key] = result[key] <= limit if op == "<=" else result[key] >= limit
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; write bench.json")
    parser.add_argument("--only", action="append", help="run only this section (repeatable)")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, section in SECTIONS:
        if args.only and name not in args.only:
            continue
        try:
            result.update(section(args.quick))
        except Exception as exc:  # one broken section does not hide the others
            errors[name] = f"{type(exc).__name__}: {exc}"
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
