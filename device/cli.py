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
    from device.config import ConfigError, apply_overrides, load_settings, startup_problems

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
    from device.app import Daemon, RunOptions
    from device.audio.settings import FileInput, FileOutput
    from device.audio.wav import AudioFileError, WavMic, WavSpeaker
    from device.config import ConfigError
    from device.prompts import PromptLibrary
    from device.realtime.link import RealtimeLink
    from device.secrets import CredentialError, find_api_key, read_credential
    from device.tools.toolbox import Toolbox, credentials_needed

    settings = _load(args)
    _setup_logging(settings.logging.level)
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


def _cmd_run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    from device.config import check_config

    return check_config(Path(args.file), sys.stdout, sys.stderr)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from device.doctor import run_audio_doctor

    return run_audio_doctor(args, sys.stdout)


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
    from device.doctor import add_doctor_arguments

    add_doctor_arguments(doctor)
    doctor.set_defaults(func=_cmd_doctor)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
