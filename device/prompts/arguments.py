"""The arguments of making a site's prompts (argparse only: the CLI parser imports this)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_site_arguments(parser: argparse.ArgumentParser, *, config_required: bool) -> None:
    """The site arguments, shared by ``voice-kiosk make-prompts`` and this module."""
    parser.add_argument(
        "--config",
        type=Path,
        required=config_required,
        metavar="FILE",
        help="make the site's folder: the defaults plus offline.wav from "
        "conversation.offline_message (and disclosure.wav, consent.wav from "
        "conversation.disclosure, consent_question)",
    )
    parser.add_argument(
        "--replace", action="store_true", help="with --config: overwrite WAVs already in the folder"
    )
