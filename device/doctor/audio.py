"""The sound cards, checked: open each once (no retrying), meter the mic, play a tone.

`probe_input` / `probe_output` open the configured device once and close it: a missing or
busy card is one line in a check's words (`device_problem`), never the daemon's "retrying
every 3 s". `meter` and `tone` are what ``doctor --meter`` and ``doctor --tone`` show, and
what the checkup runs briefly (`check_audio_in`, `check_audio_out`).

Example::

    problem = probe_input(settings.audio.input)      # None: it opens
    ok = asyncio.run(meter(settings.audio, 1.0, out, False, report))
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import time
import wave
from typing import Any, TextIO

from device.audio.frames import SPEECH_RATE_HZ
from device.audio.settings import AudioSettings, FileInput, PyAudioInput, PyAudioOutput
from device.doctor.result import CheckResult, failed, passed, skipped

_RETRYING = ": retrying every"
HOLDS_IT = "voice-kiosk is running and holds it; to check it: systemctl stop voice-kiosk"
MIC_FIX = "check the USB cable or audio.input.device (voice-kiosk doctor --list names the cards)"
SPEAKER_FIX = "check the cable or audio.output.device (voice-kiosk doctor --list names the cards)"


def device_problem(exc: BaseException, spec: str | None, what: str) -> str:
    """One line on why ``what`` ('microphone', 'speaker') ``spec`` did not open."""
    from device.audio.devices import DeviceNotFound, describe_open_error

    name = spec or "default"
    if isinstance(exc, DeviceNotFound):
        text = str(exc)
        cards = text.split("(devices: ", 1)[1].rstrip(")") if "(devices: " in text else ""
        if cards and cards != "none":
            return f"no {what} '{name}': this machine has {cards}"
        return f"no {what} '{name}': this machine has none (no sound card with one?)"
    return f"{what} '{name}': {describe_open_error(exc)}"


def _words(message: str) -> str:
    """A device's health message in a check's words (without the daemon's retry promise)."""
    return message.split(_RETRYING, 1)[0]


def _probe(spec: str | None, *, output: bool, channels: int, rate_hz: int) -> str | None:
    import pyaudio

    from device.audio.devices import close_stream, open_stream

    period = rate_hz // 50

    def callback(_data: Any, n: int, _info: Any, _status: int) -> tuple[bytes | None, int]:
        return (bytes(2 * n * channels) if output else None), pyaudio.paContinue

    what = "speaker" if output else "microphone"
    try:
        pa, stream, _name = open_stream(
            spec,
            output=output,
            channels=channels,
            rate_hz=rate_hz,
            frames_per_buffer=period,
            callback=callback,
        )
    except Exception as exc:  # DeviceNotFound, PortAudio's OSError, ...
        return device_problem(exc, spec, what)
    close_stream(pa, stream, what)
    return None


def probe_input(inp: PyAudioInput) -> str | None:
    """None when the microphone opens (once, no retry), else why not in one line."""
    return _probe(inp.device, output=False, channels=inp.channels, rate_hz=inp.rate_hz)


def probe_output(outp: PyAudioOutput) -> str | None:
    """None when the speaker opens (once, no retry), else why not in one line."""
    return _probe(outp.device, output=True, channels=outp.channels, rate_hz=outp.rate_hz)


async def meters(
    settings: AudioSettings, seconds: float, out: TextIO, live: bool, report: dict[str, Any]
) -> bool:
    """The microphone, and at the same time the raw mic of ``echo.raw_input`` if set
    (``report["raw_input_meter"]``: it should hear the room as the microphone does)."""
    main = meter(settings, seconds, out, live, report)
    raw = settings.raw_mic()
    if raw is None:
        return await main
    oks = await asyncio.gather(
        main, meter(settings, seconds, out, False, report, raw, "raw_input_meter")
    )
    return all(oks)


async def meter(
    settings: AudioSettings,
    seconds: float,
    out: TextIO,
    live: bool,
    report: dict[str, Any],
    inp: PyAudioInput | None = None,
    key: str = "meter",
) -> bool:
    """Level, noise floor and gate over ``seconds`` (``report[key]``); the device is
    opened once first: a missing one is its problem, not a retry loop."""
    from device.audio.pipeline import CapturePipeline
    from device.audio.pyaudio_io import PyAudioMic

    if inp is None:
        inp = settings.input if isinstance(settings.input, PyAudioInput) else PyAudioInput()
    problem = await asyncio.to_thread(probe_input, inp)
    if problem is not None:
        report[key] = {"device": inp.device, "frames": 0, "problems": [problem]}
        return False
    problems: list[str] = []
    mic = PyAudioMic(inp, on_health=lambda ok, m: problems.append(_words(m)) if not ok else None)
    pipe = CapturePipeline(
        inp.rate_hz, inp.channels, inp.channel, settings.gate, 40, upload_rate_hz=SPEECH_RATE_HZ
    )
    frames = opened = 0
    peak = -120.0
    start = time.monotonic()  # reset at the first frame: devices take a while to start

    async def run() -> None:
        nonlocal frames, opened, peak, start
        async with contextlib.aclosing(mic.frames()) as stream:
            async for frame in stream:
                if frames == 0:
                    start = time.monotonic()
                was = pipe.gate_open
                pipe.process(frame)
                frames += 1
                opened += int(pipe.gate_open and not was)
                peak = max(peak, pipe.level_db)
                if live and frames % 5 == 0:
                    bar = "#" * max(0, min(50, int((pipe.level_db + 80) * 50 / 80)))
                    state = "OPEN " if pipe.gate_open else "closed"
                    out.write(
                        f"\r{pipe.level_db:6.1f} dB  floor {pipe.floor_db:6.1f}"
                        f"  gate {state} {bar:<50}"
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
    if live:
        out.write("\n")
    report[key] = {
        "device": mic.device_name,
        "seconds": round(time.monotonic() - start, 2),
        "frames": frames,
        "level_db": round(pipe.level_db, 1),
        "floor_db": round(pipe.floor_db, 1),
        "peak_db": round(peak, 1),
        "gate_open": pipe.gate_open,
        "gate_openings": opened,
        "overflows": mic.overflows,
        "problems": problems if frames or problems else ["opened, but no audio came"],
    }
    return frames > 0 and not problems


async def tone(
    settings: AudioSettings, report: dict[str, Any], ms: int = 1000, open_s: float = 10.0
) -> bool:
    """A 440 Hz tone of ``ms`` on the configured speaker (``report["tone"]``)."""
    import numpy as np

    from device.audio.pyaudio_io import PyAudioSpeaker

    outp = settings.output
    if not isinstance(outp, PyAudioOutput):
        outp = PyAudioOutput()
    problem = await asyncio.to_thread(probe_output, outp)
    if problem is not None:
        report["tone"] = {"device": outp.device, "played_ms": 0.0, "error": problem}
        return False
    speaker = PyAudioSpeaker(outp)
    try:
        ok = await asyncio.to_thread(speaker.wait_open, open_s)
        t = np.arange(24 * ms) / 24000
        fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
        pcm = (6000 * np.sin(2 * math.pi * 440 * t) * fade).astype("<i2")
        if ok:
            speaker.write("tone", pcm.tobytes())
            await asyncio.wait_for(speaker.wait_idle(), open_s)
        report["tone"] = {
            "device": speaker.device_name,
            "played_ms": round(speaker.played_ms("tone"), 1),
            "error": _words(speaker.error) if speaker.error else None,
        }
        return ok and speaker.played_ms("tone") >= ms - 10
    finally:
        await speaker.close()


# ---- the checkup's two audio checks -------------------------------------------------------


def check_audio_in(settings: AudioSettings, daemon_running: bool) -> CheckResult:
    """The microphone opens and hears something over about 1 s (a WAV caller: readable)."""
    name = "audio_in"
    inp = settings.input
    if isinstance(inp, FileInput):
        try:
            with wave.open(str(inp.path), "rb") as w:
                rate, channels, n = w.getframerate(), w.getnchannels(), w.getnframes()
        except (OSError, EOFError, wave.Error) as exc:
            return failed(
                name, f"the caller's WAV file {inp.path}: {exc}", "check audio.input.path"
            )
        return passed(
            name,
            f"the caller is the WAV file {inp.path} ({rate} Hz, {channels} ch, {n / rate:.1f} s)",
        )
    if daemon_running:
        return skipped(name, f"the microphone: {HOLDS_IT}")
    report: dict[str, Any] = {}
    ok = asyncio.run(meters(settings, 1.0, io.StringIO(), False, report))
    m = report["meter"]
    problems = m["problems"] + report.get("raw_input_meter", {}).get("problems", [])
    if not ok or problems:
        problem = problems[0] if problems else "no audio came"
        fix = (
            MIC_FIX
            if problem.startswith("no ")
            else (
                "check audio.input.rate_hz and channels against voice-kiosk doctor --list;"
                " is another program recording from it?"
            )
        )
        return failed(name, problem, fix)
    if m["peak_db"] <= -100:
        return failed(
            name,
            f"microphone {m['device']}: only digital silence over {m['seconds']} s",
            "unmute the capture (alsamixer, F4) or pick another audio.input.channel",
        )
    return passed(
        name,
        f"microphone {m['device']}: level {m['level_db']} dB, floor {m['floor_db']} dB,"
        f" peak {m['peak_db']} dB over {m['seconds']} s",
    )


def check_audio_out(settings: AudioSettings, daemon_running: bool) -> CheckResult:
    """The speaker opens and plays a short tone (a WAV speaker: its folder is writable)."""
    name = "audio_out"
    outp = settings.output
    if not isinstance(outp, PyAudioOutput):
        folder = outp.path.parent
        if folder.is_dir() and os.access(folder, os.W_OK):
            return passed(name, f"replies are written to {outp.path} (the folder is writable)")
        return failed(
            name,
            f"cannot write the reply file {outp.path}",
            f"make {folder} and let this user write it",
        )
    if daemon_running:
        return skipped(name, f"the speaker: {HOLDS_IT}")
    report: dict[str, Any] = {}
    ok = asyncio.run(tone(settings, report, ms=300, open_s=5.0))
    t = report["tone"]
    if not ok:
        problem = t["error"] or f"played {t['played_ms']} ms of a 300 ms tone"
        return failed(name, problem, SPEAKER_FIX)
    return passed(
        name, f"speaker {t['device']}: played a 0.3 s tone (you should have heard a beep)"
    )
