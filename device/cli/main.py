"""Command line: `voice-kiosk run | check-config | doctor`; the only place with real adapters."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from device import __version__
from device.cli.arguments import add_doctor_arguments, add_site_arguments

log = logging.getLogger("device")

EXIT_FAILED = 1  # a worker kept failing: the daemon gave up (systemd restarts it)
EXIT_CONFIG = 2  # bad config or credentials: fix the file, then start again


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="voice-kiosk: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    # library chatter (websockets frames, httpx requests) stays out of the operator's log
    for noisy in ("websockets", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _parse_sets(values: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"voice-kiosk: --set {item!r}: expected KEY.PATH=VALUE")
        overrides[key.strip()] = value
    return overrides


def _load(args: argparse.Namespace) -> Any:
    """The settings `run` starts with, or exit 2 with one line per problem.

    The same checks as `check-config` (``startup_problems``: files, folders, WAVs, JSON
    schemas), run before any device or network is opened; after ``--set`` overrides the
    checks between sections run again on the result.
    """
    from device.config.loader import ConfigError, apply_overrides, load_settings, startup_problems

    path = Path(args.config)
    try:
        settings = load_settings(path)
        overrides = _parse_sets(args.set or [])
        if args.realtime_url:
            overrides["realtime.url"] = args.realtime_url
        if overrides:
            settings = apply_overrides(settings, overrides)
        problems = startup_problems(settings, path, pure=bool(overrides))
    except ConfigError as exc:
        problems = exc.problems
    except Exception as exc:  # a bug must still be one line, never a traceback
        problems = [f"{path}: cannot check this file ({type(exc).__name__})"]
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)
    return settings


async def _serve(args: argparse.Namespace) -> int:
    from device.audio.settings import FileInput, FileOutput
    from device.audio.wav import AudioFileError, WavMic, WavSpeaker
    from device.config.loader import ConfigError
    from device.config.secrets import CredentialError, api_key_source, find_api_key, read_credential
    from device.daemon.daemon import Daemon, RunOptions
    from device.prompts.library import PromptLibrary
    from device.realtime.link import RealtimeLink
    from device.tools.toolbox import Toolbox, credentials_needed

    settings = _load(args)
    _setup_logging(settings.logging.level)
    warn_advice(settings)
    try:
        api_key = find_api_key(settings.realtime.api_key_file, os.environ)
    except CredentialError as exc:
        print(f"voice-kiosk: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    tools = settings.tools

    def credential(name: str) -> str:
        return read_credential(name, os.environ, tools.credential_dir).reveal()

    try:
        toolbox = Toolbox.from_settings(
            tools,
            credentials=credential,
            audit_path=tools.audit_log,
            device_name=settings.device.name,
            site=settings.device.site,
        )
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    for name in credentials_needed(tools):  # a tool without its credential still answers
        try:
            credential(name)
        except CredentialError as exc:
            log.warning("tools: %s (tools using it will report a failure)", exc)

    holder: dict[str, Daemon] = {}

    def on_health(ok: bool, message: str) -> None:
        if "daemon" in holder:
            holder["daemon"].health(ok, message)
        else:
            (log.info if ok else log.error)(message)

    inp, outp = settings.audio.input, settings.audio.output
    try:
        mic: Any
        speaker: Any
        if isinstance(inp, FileInput):
            mic = WavMic(inp)
        else:
            from device.audio.pyaudio_io import PyAudioMic

            mic = PyAudioMic(inp, on_health=on_health)
        if isinstance(outp, FileOutput):
            speaker = WavSpeaker(outp)
        else:
            from device.audio.pyaudio_io import PyAudioSpeaker

            speaker = PyAudioSpeaker(outp)
    except AudioFileError as exc:
        print(f"voice-kiosk: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    try:
        listeners = _listeners(settings, holder)
    except _StartupProblem as exc:
        print(f"voice-kiosk: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    listeners.update(wire_barge_in(settings, listeners.get("local_vad"), speaker))
    if isinstance(mic, WavMic) and isinstance(speaker, WavSpeaker):
        mic.hear(speaker)  # audio.input.echo_db: the file caller hears the file speaker

    rt = settings.realtime

    async def connect() -> RealtimeLink:
        return await RealtimeLink.connect(rt.url, rt.model, api_key, timeout_s=rt.connect_timeout_s)

    daemon = Daemon(
        settings,
        mic=mic,
        speaker=speaker,
        connect=connect,
        toolbox=toolbox,
        prompts=PromptLibrary.load(settings.conversation.prompts_dir),
        options=RunOptions(exit_when_input_ends=isinstance(inp, FileInput)),
        timeline=sys.stdout,
        key_source=api_key_source(settings.realtime.api_key_file, os.environ),
        **listeners,
    )
    holder["daemon"] = daemon
    log.info("serving as %s (model %s at %s)", settings.device.name, rt.model, rt.url)
    try:
        summary = await daemon.run()
    finally:
        await toolbox.close()
    if args.summary_json:
        path = Path(args.summary_json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    return EXIT_FAILED if daemon.failed else 0


def warn_advice(settings: Any) -> None:
    """What ``check-config`` notes under its OK, as warnings in the daemon's log."""
    for note in settings.audio.advice():
        log.warning("%s", note)


def wire_barge_in(settings: Any, vad: Any, speaker: Any) -> dict[str, Any]:
    """What the local speech detector ``vad`` (or None) needs of the other adapters: the
    speaker's playback as its echo reference (judged as reference mode), and with
    ``audio.echo.raw_input`` the raw mic it listens to (``{"vad_mic": PyAudioMic}``, for
    the Daemon). The raw mic is not the
    caller's microphone: when it is missing the daemon serves on (one log line, reopened
    like the main mic), and barge-in is the server's alone meanwhile."""
    echo = settings.audio.echo
    if vad is None:
        return {}
    if echo.judged_mode == "reference":
        speaker.on_played = vad.reference  # what the device plays, to weigh the mic against
    raw = settings.audio.raw_mic()
    if raw is None:
        return {}
    from device.audio.pyaudio_io import PyAudioMic

    return {"vad_mic": PyAudioMic(raw, on_health=_raw_mic_health)}


def _raw_mic_health(ok: bool, message: str) -> None:
    if ok:
        log.info("barge-in mic (audio.echo.raw_input): %s", message)
    else:
        log.error(
            "barge-in mic (audio.echo.raw_input): %s; barge-in is left to the server", message
        )


class _StartupProblem(Exception):
    """A part the config asks for cannot be built; one line naming it."""


def _listeners(settings: Any, holder: dict[str, Any]) -> dict[str, Any]:
    """The wake word, the local speech detector and the button the config asks for.

    Their callbacks come from threads and go to the daemon (``holder["daemon"]``), which
    makes them thread-safe. A missing wake model is a start-up problem; a button that
    cannot be read is one error line, and the device serves without it.
    """
    out: dict[str, Any] = {}
    if settings.wake.enabled:
        from device.wake.listener import WakeListener
        from device.wake.models import ModelNotFound
        from device.wake.oww import detector_from_settings

        try:
            detector = detector_from_settings(settings.wake)
        except (ModelNotFound, ValueError, OSError) as exc:
            raise _StartupProblem(f"wake: {exc}") from None
        out["wake"] = WakeListener(
            detector,
            lambda m, s, e: holder["daemon"].on_wake(m, s, e),
            queue_frames=settings.wake.queue_frames,
        )
    barge_in = settings.audio.barge_in
    if barge_in.local_vad and settings.audio.echo.mode != "half_duplex":
        from device.vad.listener import VadListener

        try:
            out["local_vad"] = VadListener(
                barge_in,
                settings.audio.echo,
                on_speech=lambda start: holder["daemon"].on_local_speech(start),
                on_pause=lambda ms, expired: holder["daemon"].on_local_pause(ms, expired),
            )
        except (OSError, ValueError, RuntimeError) as exc:
            log.error("barge-in: the local speech detector is off: %s", exc)
    if settings.button.enabled:
        from device.buttons.gpio import ButtonUnavailable, GpioButton

        try:
            out["button"] = GpioButton(
                settings.button, lambda event, t: holder["daemon"].on_button(event, t)
            )
        except ButtonUnavailable as exc:
            log.error("%s; serving without the button", exc)
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    from device.config.loader import check_config

    return check_config(Path(args.file), sys.stdout, sys.stderr)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from device.cli.doctor import run_audio_doctor

    return run_audio_doctor(args, sys.stdout)


def _cmd_make_prompts(args: argparse.Namespace) -> int:
    from device.prompts.making import make_site_prompts

    return make_site_prompts(args.config, args.out, replace=args.replace)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voice-kiosk", description=__doc__)
    parser.add_argument("--version", action="version", version=f"voice-kiosk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", required=True, help="YAML config file")
    run.add_argument("--summary-json", metavar="PATH", help="write a JSON run summary at exit")
    run.add_argument("--realtime-url", metavar="URL", help="override realtime.url")
    run.add_argument(
        "--set", action="append", metavar="KEY.PATH=VALUE", help="override one setting"
    )
    run.set_defaults(func=_cmd_run)

    check = sub.add_parser("check-config", help="validate a config file without starting")
    check.add_argument("file")
    check.set_defaults(func=_cmd_check_config)

    doctor = sub.add_parser("doctor", help="check the sound cards: list, level meter, test tone")
    add_doctor_arguments(doctor)
    doctor.set_defaults(func=_cmd_doctor)

    prompts = sub.add_parser("make-prompts", help="make the site's canned prompts (espeak-ng)")
    add_site_arguments(prompts, config_required=True)
    prompts.add_argument("--out", type=Path, metavar="DIR", help="default: prompts_dir")
    prompts.set_defaults(func=_cmd_make_prompts)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
