"""`voice-kiosk`: run the kiosk, check a config, check the hardware, make the prompts.

Building this parser imports nothing heavy (``voice-kiosk --help`` answers at once); each
command imports what it needs when it runs. `run` lives in device/cli/serve.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from device import __version__
from device.cli.arguments import add_doctor_arguments, add_site_arguments


def _cmd_run(args: argparse.Namespace) -> int:
    from device.cli.serve import serve

    try:
        return asyncio.run(serve(args))
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
