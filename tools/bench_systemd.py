"""Bench: the unit's hardening (security_exposure, target <= 2.5) and that it verifies.

``systemd-analyze security --offline=true UNIT`` scores a unit file without installing
it (0 is locked down, 10 is fully exposed); ``systemd-analyze verify`` checks it, with
the ExecStart= programs that do not exist on this machine swapped for a stub in a temp
copy (verify refuses a unit whose program is missing; nothing else is changed).
start_to_ready_ms (service start to READY=1) is measured by the daemon's bench, not here.

    python tools/bench_systemd.py          # one JSON object
    python -c "import tools.bench_systemd as b; print(b.run())"
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

UNITS = Path(__file__).resolve().parent.parent / "systemd"
MAIN_UNIT = UNITS / "voice-kiosk.service"
AUDIO_UNIT = UNITS / "voice-kiosk-audio.service"
EXPOSURE_TARGET = 2.5

_OVERALL = re.compile(r"Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)")


class AnalyzeMissing(RuntimeError):
    """systemd-analyze is not installed (Debian: apt-get install systemd)."""


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        raise AnalyzeMissing("systemd-analyze not found: apt-get install systemd")
    return found


def security_exposure(unit: Path) -> float:
    """The overall exposure ``systemd-analyze security --offline=true`` gives ``unit``."""
    done = subprocess.run(
        [_analyze(), "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = _OVERALL.search(done.stdout)
    if found is None:
        raise RuntimeError(f"no exposure figure for {unit.name}: {done.stderr.strip()}")
    return float(found.group(1))


def verifiable_copy(unit: Path, folder: Path) -> tuple[Path, list[str]]:
    """A copy of ``unit`` in ``folder`` whose missing ExecStart= programs are a stub.

    Returns the copy and the programs swapped (empty: the copy is the unit as it is).
    """
    stub = folder / "stub-program"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    swapped = []
    lines = []
    for line in unit.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in ("ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop"):
            program, space, rest = value.strip().partition(" ")
            if not Path(program.lstrip("-@:+!")).exists():
                swapped.append(program)
                line = f"{key}={stub}{space}{rest}"
        lines.append(line)
    copy = folder / unit.name
    copy.write_text("\n".join(lines) + "\n")
    return copy, swapped


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` on a verifiable copy of ``unit`` (see `verifiable_copy`)."""
    with tempfile.TemporaryDirectory(prefix="vk-verify-") as folder:
        copy, _ = verifiable_copy(unit, Path(folder))
        return subprocess.run(
            [_analyze(), "verify", str(copy)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def run() -> dict[str, Any]:
    """security_exposure (the daemon's unit; target <= 2.5), the sound server unit's
    figure, and whether both units verify with nothing on stderr."""
    checked = {unit: verify(unit) for unit in (MAIN_UNIT, AUDIO_UNIT)}
    return {
        "security_exposure": security_exposure(MAIN_UNIT),
        "security_exposure_target": EXPOSURE_TARGET,
        "security_exposure_audio": security_exposure(AUDIO_UNIT),
        "verify_ok": all(p.returncode == 0 and not p.stderr.strip() for p in checked.values()),
    }


def main() -> int:
    result = run()
    print(json.dumps(result, indent=2))
    return 0 if result["security_exposure"] <= EXPOSURE_TARGET and result["verify_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
