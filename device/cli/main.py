"""voice-kiosk: a talking kiosk on a Raspberry Pi. Install a device with `provision`, check
it with `doctor` (every check, and what to do for each failure), then systemd runs it
(`run`); `check-config` says whether a config is usable, `make-prompts` speaks the site's
offline messages. Set-up and operation: docs/operating.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from device import __version__
from device.cli.arguments import add_doctor_arguments, add_site_arguments

# The docstring above is `voice-kiosk --help`. Building this parser imports nothing heavy
# (--help answers at once); each command imports what it needs when it runs. `run` lives in
# device/cli/serve.py.


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


def _cmd_provision(args: argparse.Namespace) -> int:
    from device.provision.command import run_provision

    return run_provision(args, stdin=sys.stdin.buffer, stdout=sys.stdout, stderr=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voice-kiosk", description=__doc__)
    parser.add_argument("--version", action="version", version=f"voice-kiosk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run the kiosk (systemd does; by hand to try a config in a terminal)"
    )
    run.add_argument(
        "--config", required=True, help="the config, e.g. /etc/voice-kiosk/config.yaml"
    )
    run.add_argument("--summary-json", metavar="PATH", help="at exit, write what happened as JSON")
    run.add_argument("--realtime-url", metavar="URL", help="use this endpoint, not realtime.url")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY.PATH=VALUE",
        help="change one setting for this run (repeatable)",
    )
    run.set_defaults(func=_cmd_run)

    check = sub.add_parser(
        "check-config", help="say whether a config is usable: OK, or one line per problem"
    )
    check.add_argument("file", help="the config (YAML)")
    check.set_defaults(func=_cmd_check_config)

    doctor = sub.add_parser(
        "doctor",
        help="is this device ready? every check, PASS/FAIL/SKIP, what to do for a failure",
        description="With no flag (or --all): check the config, the API key (never shown),"
        " the Realtime service, the microphone and speaker, wake word, button, LEDs, disk"
        " space, the clock, and the service and its hardening; one line each, a fix line"
        " under each failure. Exit 0 all passed (skipped checks too), 1 a check failed, 2"
        " a bad config. Stop the service first to check the sound cards and pins"
        " (systemctl stop voice-kiosk). Each other flag runs one part at length.",
    )
    add_doctor_arguments(doctor)
    doctor.set_defaults(func=_cmd_doctor)

    prompts = sub.add_parser(
        "make-prompts", help="speak the site's offline and canned prompts into WAV files"
    )
    add_site_arguments(prompts, config_required=True)
    prompts.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write them here (default: conversation.prompts_dir)",
    )
    prompts.set_defaults(func=_cmd_make_prompts)

    provision = sub.add_parser(
        "provision",
        help="install this device (or an image tree) from a config: files, key, unit, doctor",
        description="Validate CONFIG, install it in /etc/voice-kiosk/ with the API key, the "
        "wake-word models, the site's prompts, the sound server (software echo mode), the "
        "udev rule and groups, and the unit (enabled); then run doctor. Idempotent. Exit 0 "
        "(lines starting 'changed:' say what changed), 1 a failed step or check, 2 a bad "
        "config or key.",
    )
    provision.add_argument("config", type=Path, metavar="CONFIG.yaml")
    provision.add_argument(
        "--root", type=Path, metavar="DIR", help="build into this image tree (nothing started)"
    )
    provision.add_argument("--dry-run", action="store_true", help="print what it would do")
    key = provision.add_mutually_exclusive_group()
    key.add_argument("--credential-file", type=Path, metavar="F", help="the API key's file")
    key.add_argument("--credential-stdin", action="store_true", help="read the API key from stdin")
    provision.set_defaults(func=_cmd_provision)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
