"""`voice-kiosk doctor` in process: its arguments parsed as the command line does, its output
captured (``out``: a stream of the test's own, e.g. one read while the doctor runs)."""

from __future__ import annotations

import argparse
import io

from device.cli.doctor import add_doctor_arguments, run_audio_doctor


def doctor(*argv: str, out: io.StringIO | None = None) -> tuple[int, str]:
    """(exit code, what it printed)."""
    parser = argparse.ArgumentParser()
    add_doctor_arguments(parser)
    out = out if out is not None else io.StringIO()
    return run_audio_doctor(parser.parse_args(list(argv)), out), out.getvalue()
