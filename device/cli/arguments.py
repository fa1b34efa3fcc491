"""The command line's arguments that more than one entry point shares.

Argparse only: building the ``voice-kiosk`` parser must import nothing heavy (no numpy,
no audio or model libraries), so ``voice-kiosk --help`` answers at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from device.prompts.arguments import add_site_arguments

__all__ = ["add_doctor_arguments", "add_site_arguments"]


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", action="store_true", help="list audio devices")
    parser.add_argument(
        "--meter", type=float, metavar="SECONDS", help="show the mic level and gate state"
    )
    parser.add_argument("--tone", action="store_true", help="play a 1 s test tone")
    parser.add_argument(
        "--echo",
        action="store_true",
        help="play a noise burst: how loud and late the mic hears the speaker, the echo mode",
    )
    parser.add_argument(
        "--wake", type=float, metavar="SECONDS", help="say the wake phrase: live score per model"
    )
    parser.add_argument(
        "--button", type=float, metavar="SECONDS", help="press the talk button: edges as they come"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object for scripts")
    parser.add_argument("--config", type=Path, metavar="FILE", help="use this config's devices")
