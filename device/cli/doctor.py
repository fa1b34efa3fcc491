"""`voice-kiosk doctor`, audio part: list sound cards, meter the mic with the gate, play a tone.

Example::

    voice-kiosk doctor --list
    voice-kiosk doctor --config kiosk.yaml --meter 10     # level, noise floor, gate state
    voice-kiosk doctor --tone --json
    voice-kiosk doctor --config kiosk.yaml --echo   # the mic hears the speaker: dB, ms, mode
    voice-kiosk doctor --config kiosk.yaml --wake 20      # say "hey jarvis": live scores
    GPIOZERO_PIN_FACTORY=mock voice-kiosk doctor --button 5   # press, hold, release

Exit codes: 0 all checks passed, 1 a check failed (device missing, no audio), 2 bad usage
or config.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import time
from typing import Any, TextIO

from device.audio.frames import SPEECH_RATE_HZ
from device.audio.settings import AudioSettings, PyAudioInput, PyAudioOutput
from device.cli.arguments import add_doctor_arguments

__all__ = ["add_doctor_arguments", "run_audio_doctor"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _audio_settings(args: argparse.Namespace) -> AudioSettings:
    if getattr(args, "config", None) is None:
        return AudioSettings()
    from device.config.loader import load_settings  # lazily: the loader is heavy

    return load_settings(args.config).audio


def _list(report: dict[str, Any]) -> bool:
    from device.audio.devices import list_devices, open_portaudio

    with open_portaudio() as pa:
        devices = [d.as_dict() for d in list_devices(pa)]
    report["devices"] = devices
    return bool(devices)


async def _meters(
    settings: AudioSettings, seconds: float, out: TextIO, live: bool, report: dict[str, Any]
) -> bool:
    """The microphone, and at the same time the raw mic of ``echo.raw_input`` if set
    (``report["raw_input_meter"]``: it should hear the room as the microphone does)."""
    main = _meter(settings, seconds, out, live, report)
    raw = settings.raw_mic()
    if raw is None:
        return await main
    oks = await asyncio.gather(
        main, _meter(settings, seconds, out, False, report, raw, "raw_input_meter")
    )
    return all(oks)


async def _meter(
    settings: AudioSettings,
    seconds: float,
    out: TextIO,
    live: bool,
    report: dict[str, Any],
    inp: PyAudioInput | None = None,
    key: str = "meter",
) -> bool:
    from device.audio.pipeline import CapturePipeline
    from device.audio.pyaudio_io import PyAudioMic

    if inp is None:
        inp = settings.input if isinstance(settings.input, PyAudioInput) else PyAudioInput()
    problems: list[str] = []
    mic = PyAudioMic(inp, on_health=lambda ok, m: problems.append(m) if not ok else None)
    pipe = CapturePipeline(
        inp.rate_hz, inp.channels, inp.channel, settings.gate, 40, upload_rate_hz=SPEECH_RATE_HZ
    )
    frames = opened = 0
    peak = -120.0
    start = time.monotonic()  # reset at the first frame: devices take a while to start

    async def run() -> None:
        nonlocal frames, opened, peak
        nonlocal start
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
        "problems": problems,
    }
    return frames > 0 and not problems


async def _tone(settings: AudioSettings, report: dict[str, Any]) -> bool:
    import numpy as np

    from device.audio.pyaudio_io import PyAudioSpeaker

    outp = settings.output
    if not isinstance(outp, PyAudioOutput):
        outp = PyAudioOutput()
    speaker = PyAudioSpeaker(outp)
    try:
        ok = await asyncio.to_thread(speaker.wait_open, 10.0)
        t = np.arange(24000) / 24000
        fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
        tone = (6000 * np.sin(2 * math.pi * 440 * t) * fade).astype("<i2")
        if ok:
            speaker.write("tone", tone.tobytes())
            await asyncio.wait_for(speaker.wait_idle(), 10)
        report["tone"] = {
            "device": speaker.device_name,
            "played_ms": round(speaker.played_ms("tone"), 1),
            "error": speaker.error,
        }
        return ok and speaker.played_ms("tone") >= 990
    finally:
        await speaker.close()


def run_trigger_doctor(args: argparse.Namespace, out: TextIO) -> int:
    """--wake SECONDS and/or --button SECONDS (device/wake/doctor.py, device/buttons/doctor.py)."""
    from device.buttons.doctor import button_doctor
    from device.buttons.doctor import print_summary as button_summary
    from device.wake.doctor import print_summary as wake_summary
    from device.wake.doctor import wake_doctor

    for flag in ("wake", "button"):
        value = getattr(args, flag)
        if value is not None and not (0 < value <= 3600):
            out.write(f"voice-kiosk doctor: --{flag} {value:g}: give 0 < SECONDS <= 3600\n")
            return EXIT_USAGE
    try:
        if args.config is None:
            from device.config.settings import Settings

            settings = Settings()
        else:
            from device.config.loader import load_settings

            settings = load_settings(args.config)
    except Exception as exc:  # ConfigError and friends: one line per problem
        for line in getattr(exc, "problems", None) or [str(exc)]:
            out.write(f"voice-kiosk doctor: {line}\n")
        return EXIT_USAGE
    report: dict[str, Any] = {}
    ok = True
    live = not args.json
    if args.wake is not None:
        ok &= asyncio.run(wake_doctor(settings.audio, settings.wake, args.wake, out, live, report))
        if live:
            wake_summary(report, out)
    if args.button is not None:
        ok &= button_doctor(settings.button, args.button, out, live, report)
        if live:
            button_summary(report, out)
    report["ok"] = bool(ok)
    if args.json:
        out.write(json.dumps(report) + "\n")
    return EXIT_OK if ok else EXIT_FAIL


def run_audio_doctor(args: argparse.Namespace, out: TextIO) -> int:
    """Run the checks asked for (all of --list/--meter 3/--tone when none is; --echo only
    when asked: it plays a noise burst); see the module docstring."""
    from device.audio.devices import DeviceNotFound

    if getattr(args, "wake", None) is not None or getattr(args, "button", None) is not None:
        return run_trigger_doctor(args, out)

    try:
        settings = _audio_settings(args)
    except Exception as exc:  # ConfigError and friends: one line per problem
        problems = getattr(exc, "problems", None) or [str(exc)]
        for line in problems:
            out.write(f"voice-kiosk doctor: {line}\n")
        return EXIT_USAGE
    want_list = bool(args.list)
    meter_s = args.meter
    if meter_s is not None and not (0 < meter_s <= 3600):
        out.write(f"voice-kiosk doctor: --meter {meter_s:g}: give 0 < SECONDS <= 3600\n")
        return EXIT_USAGE
    tone = bool(args.tone)
    echo = bool(getattr(args, "echo", False))
    if not (want_list or meter_s or tone or echo):
        want_list, meter_s, tone = True, 3.0, True
    report: dict[str, Any] = {}
    ok = True
    try:
        if want_list:
            ok &= _list(report)
            if not args.json:
                out.write("audio devices (index: name [host API] in/out channels, default rate)\n")
                for d in report["devices"]:
                    mark = (" default-in" if d["is_default_input"] else "") + (
                        " default-out" if d["is_default_output"] else ""
                    )
                    out.write(
                        f"  {d['index']:>2}: {d['name']} [{d['host_api']}] "
                        f"in {d['max_input_channels']} / out {d['max_output_channels']}, "
                        f"{d['default_rate_hz']} Hz{mark}\n"
                    )
        if meter_s:
            ok &= asyncio.run(_meters(settings, meter_s, out, not args.json, report))
            if not args.json:
                for key, what in (("meter", "microphone"), ("raw_input_meter", "barge-in mic")):
                    if key not in report:
                        continue
                    m = report[key]
                    out.write(
                        f"{what} {m['device'] or '?'}: {m['frames']} frames,"
                        f" peak {m['peak_db']} dB,"
                        f" floor {m['floor_db']} dB, gate opened {m['gate_openings']}x,"
                        f" overflows {m['overflows']}\n"
                    )
                    for p in m["problems"]:
                        out.write(f"  problem: {p}\n")
        if tone:
            ok &= asyncio.run(_tone(settings, report))
            if not args.json:
                t = report["tone"]
                out.write(
                    f"speaker {t['device'] or '?'}: played {t['played_ms']} ms of a 1000 ms tone"
                    + (f" ({t['error']})" if t["error"] else "")
                    + "\n"
                )
        if echo:
            from device.cli.echo_doctor import echo_check, print_summary

            ok &= asyncio.run(echo_check(settings, report))
            if not args.json:
                print_summary(report, out)
    except (DeviceNotFound, OSError) as exc:
        report["error"] = str(exc)
        ok = False
        if not args.json:
            out.write(f"voice-kiosk doctor: {exc}\n")
    report["ok"] = bool(ok)
    if args.json:
        out.write(json.dumps(report) + "\n")
    return EXIT_OK if ok else EXIT_FAIL
