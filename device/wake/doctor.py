"""`voice-kiosk doctor --wake SECONDS`: say the phrase, watch each model's score live.

Listens on the configured microphone through the daemon's own path (capture pipeline,
16 kHz fan-out, WakeListener, detector with the configured models, thresholds and idle
skipping) and shows each model's latest score against its threshold, with a line per wake
that would start a conversation. The report (``--json``) has the highest score per model
and every wake with its time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any, TextIO

from device.audio.frames import SPEECH_RATE_HZ
from device.audio.settings import AudioSettings, PyAudioInput
from device.wake.models import ModelNotFound
from device.wake.settings import WakeSettings

BAR = 20


async def wake_doctor(
    audio: AudioSettings,
    wake: WakeSettings,
    seconds: float,
    out: TextIO,
    live: bool,
    report: dict[str, Any],
) -> bool:
    """Listen for ``seconds``; True when audio arrived and the models ran (see module doc)."""
    from device.audio.pipeline import CapturePipeline
    from device.audio.pyaudio_io import PyAudioMic
    from device.wake.listener import WakeListener
    from device.wake.oww import detector_from_settings

    problems: list[str] = []
    section: dict[str, Any] = {"models": {}, "wakes": [], "problems": problems}
    report["wake"] = section
    try:
        detector = detector_from_settings(wake)
    except (ModelNotFound, ValueError) as exc:
        problems.append(str(exc))
        return False
    thresholds = {m.label: m.threshold for m in wake.models}
    best = dict.fromkeys(thresholds, 0.0)
    latest = dict.fromkeys(thresholds, 0.0)
    wakes: list[tuple[str, float, int]] = []
    lock = threading.Lock()

    def on_scores(scores: dict[str, float], position: int) -> None:
        with lock:
            latest.update(scores)
            for name, score in scores.items():
                best[name] = max(best[name], score)

    def on_wake(model: str, score: float, end_sample: int) -> None:
        with lock:
            wakes.append((model, score, end_sample))

    listener = WakeListener(detector, on_wake, queue_frames=wake.queue_frames, on_scores=on_scores)
    inp = audio.input if isinstance(audio.input, PyAudioInput) else PyAudioInput()
    mic = PyAudioMic(inp, on_health=lambda ok, m: problems.append(m) if not ok else None)
    pipe = CapturePipeline(
        inp.rate_hz, inp.channels, inp.channel, audio.gate, 40, upload_rate_hz=SPEECH_RATE_HZ
    )
    pipe.subscribe_16k(listener.consumer)
    listener.start()
    frames = shown = 0
    peak_db = -120.0
    start = time.monotonic()

    async def run() -> None:
        nonlocal frames, shown, start, peak_db
        async with contextlib.aclosing(mic.frames()) as stream:
            async for frame in stream:
                if frames == 0:
                    start = time.monotonic()
                pipe.process(frame)
                frames += 1
                peak_db = max(peak_db, pipe.level_db)
                with lock:
                    new, now_scores = wakes[shown:], dict(latest)
                    shown = len(wakes)
                if live:
                    for model, score, end in new:
                        out.write(
                            f"\rWAKE {model} {score:.2f} at {end / 16000:.2f} s"
                            f" (would start a conversation){'':30}\n"
                        )
                    if frames % 5 == 0:
                        out.write(
                            "\r"
                            + "  ".join(_meter(n, s, thresholds[n]) for n, s in now_scores.items())
                        )
                        out.flush()
                if time.monotonic() - start >= seconds:
                    return

    task = asyncio.create_task(run())
    try:
        await asyncio.wait({task}, timeout=seconds + mic.start_s)
    finally:
        await mic.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        listener.wait_idle(2.0)
        listener.close()
    if live:
        out.write("\n")
    if listener.error is not None:
        problems.append(f"wake word: {listener.error}")
    with lock:
        for name in thresholds:
            section["models"][name] = {
                "threshold": thresholds[name],
                "max_score": round(best[name], 3),
                "wakes": sum(1 for m, _, _ in wakes if m == name),
            }
        section["wakes"] = [
            {"model": m, "score": round(s, 3), "at_s": round(e / 16000, 2)} for m, s, e in wakes
        ]
    section.update(
        device=mic.device_name,
        seconds=round(time.monotonic() - start, 2),
        frames=frames,
        peak_db=round(peak_db, 1),
        model_frames=detector.frames,
        skipped_frames=detector.skipped_frames,
        dropped_frames=listener.dropped_frames,
    )
    return frames > 0 and not problems


def _meter(name: str, score: float, threshold: float) -> str:
    filled = min(BAR, int(score * BAR + 0.5))
    mark = min(BAR - 1, int(threshold * BAR))
    bar = "".join("#" if i < filled else ("|" if i == mark else " ") for i in range(BAR))
    return f"{name} {score:4.2f} [{bar}]{' WAKE' if score >= threshold else '     '}"


def print_summary(report: dict[str, Any], out: TextIO) -> None:
    w = report["wake"]
    for name, m in w["models"].items():
        out.write(
            f"wake word {name}: best score {m['max_score']:.2f} (threshold {m['threshold']:g}),"
            f" {m['wakes']} wake(s)\n"
        )
    if "frames" in w:
        out.write(
            f"microphone {w['device'] or '?'}: {w['frames']} frames; the models ran on"
            f" {w['model_frames'] - w['skipped_frames']} of {w['model_frames']} 80 ms frames"
            f" (the rest was quiet), {w['dropped_frames']} dropped\n"
        )
    for p in w["problems"]:
        out.write(f"  problem: {p}\n")
