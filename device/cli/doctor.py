"""`voice-kiosk doctor`: is this device ready? The checkup, or one part of it at length.

With no flag but ``--config`` and ``--json`` (or with ``--all``) it runs the checkup
(device/doctor/checkup.py): config, key, Realtime session, microphone, speaker, wake
word, button, LEDs, disk, clock, the unit and its hardening, one PASS/FAIL/SKIP line each
with what to do for a failure. Each flag below runs one part at length instead.

Example::

    voice-kiosk doctor --config /etc/voice-kiosk/config.yaml   # the checkup
    voice-kiosk doctor --list
    voice-kiosk doctor --config kiosk.yaml --meter 10     # level, noise floor, gate state
    voice-kiosk doctor --tone --json
    voice-kiosk doctor --config kiosk.yaml --echo   # the mic hears the speaker: dB, ms, mode
    voice-kiosk doctor --config kiosk.yaml --wake 20      # say "hey jarvis": live scores
    GPIOZERO_PIN_FACTORY=mock voice-kiosk doctor --button 5   # press, hold, release
    voice-kiosk doctor --config kiosk.yaml --leds       # every LED pattern for 2 s

Exit codes: 0 all checks passed (skipped ones too), 1 a check failed (device missing, no
audio, the key refused), 2 bad usage or config.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any, TextIO

from device.audio.settings import AudioSettings
from device.cli.arguments import add_doctor_arguments
from device.doctor.audio import MIC_FIX, SPEAKER_FIX, meters, tone

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


PARTS = ("list", "meter", "tone", "echo", "wake", "button", "leds")


def _parts(args: argparse.Namespace) -> list[str]:
    """The part flags given (``--meter 0`` counts: it is then a usage error)."""
    given = [(f, getattr(args, f, None)) for f in PARTS]
    return [f for f, value in given if value is not None and value is not False]


def _settings(args: argparse.Namespace) -> Any:
    from device.config.settings import Settings

    if getattr(args, "config", None) is None:
        return Settings()
    from device.config.loader import load_settings

    return load_settings(args.config)


def _usage(out: TextIO, line: str) -> int:
    out.write(f"voice-kiosk doctor: {line}\n")
    return EXIT_USAGE


def run_leds_doctor(args: argparse.Namespace, out: TextIO) -> int:
    """--leds: every pattern for 2 s on the configured driver (device/leds/doctor.py)."""
    from device.leds.doctor import show_every_pattern

    try:
        settings = _settings(args)
    except Exception as exc:  # ConfigError and friends: one line per problem
        for line in getattr(exc, "problems", None) or [str(exc)]:
            out.write(f"voice-kiosk doctor: {line}\n")
        return EXIT_USAGE
    return show_every_pattern(settings.leds, out, seconds=2.0, as_json=args.json)


def run_audio_doctor(args: argparse.Namespace, out: TextIO) -> int:
    """The checkup when no part is asked for (or --all); else the parts asked for
    (--echo only when asked: it plays a noise burst); see the module docstring."""
    from device.audio.devices import DeviceNotFound

    parts = _parts(args)
    if getattr(args, "all", False) or not parts:
        if parts:
            return _usage(out, f"--all runs every check: leave out --{parts[0]}")
        from device.doctor.checkup import run_checkup

        return run_checkup(args.config, out, as_json_output=args.json)
    if "leds" in parts:
        if len(parts) > 1:
            other = next(p for p in parts if p != "leds")
            return _usage(out, f"--leds runs on its own: leave out --{other}")
        return run_leds_doctor(args, out)
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
    want_tone = bool(args.tone)
    echo = bool(getattr(args, "echo", False))
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
            ok &= asyncio.run(meters(settings, meter_s, out, not args.json, report))
            if not args.json:
                for key, what in (("meter", "microphone"), ("raw_input_meter", "barge-in mic")):
                    if key not in report:
                        continue
                    m = report[key]
                    if "peak_db" in m:
                        out.write(
                            f"{what} {m['device'] or '?'}: {m['frames']} frames,"
                            f" peak {m['peak_db']} dB,"
                            f" floor {m['floor_db']} dB, gate opened {m['gate_openings']}x,"
                            f" overflows {m['overflows']}\n"
                        )
                    for p in m["problems"]:
                        fix = f"; {MIC_FIX}" if p.startswith("no ") and key == "meter" else ""
                        out.write(f"  problem: {p}{fix}\n")
        if want_tone:
            ok &= asyncio.run(tone(settings, report))
            if not args.json:
                t = report["tone"]
                if t["error"] and not t["played_ms"]:
                    out.write(f"speaker: problem: {t['error']}; {SPEAKER_FIX}\n")
                else:
                    out.write(
                        f"speaker {t['device'] or '?'}: played {t['played_ms']} ms of a"
                        " 1000 ms tone" + (f" ({t['error']})" if t["error"] else "") + "\n"
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
