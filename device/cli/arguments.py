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
    """The doctor's flags: none (or --all) runs the checkup; each other flag one part."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the device's config (default: /etc/voice-kiosk/config.yaml if it is there)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="every check, one PASS/FAIL/SKIP line each (the default when no other flag is"
        " given): config, API key, Realtime session, microphone, speaker, wake word, button,"
        " LEDs, disk, clock, the service and its hardening",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    part = parser.add_argument_group("one part at length")
    part.add_argument("--list", action="store_true", help="list the sound cards")
    part.add_argument(
        "--meter",
        type=float,
        metavar="SECONDS",
        help="show the microphone's level and the noise gate while you speak",
    )
    part.add_argument("--tone", action="store_true", help="play a 1 s tone on the speaker")
    part.add_argument(
        "--echo",
        action="store_true",
        help="play a noise burst: how loud and late the mic hears the speaker, and the echo"
        " mode to set",
    )
    part.add_argument(
        "--wake",
        type=float,
        metavar="SECONDS",
        help="say the wake phrase: each model's score as you speak",
    )
    part.add_argument(
        "--button",
        type=float,
        metavar="SECONDS",
        help="press the talk button: each press, hold and release as it happens",
    )
    part.add_argument(
        "--leds", action="store_true", help="show every LED pattern for 2 s, named as it shows"
    )
