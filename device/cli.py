"""Command line: `voice-kiosk run | check-config | doctor`."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("voice-kiosk: not wired yet")
