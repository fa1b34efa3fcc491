"""What the checkup asks of this machine: commands, paths, systemd's word (an adapter).

`Machine` holds the places the installed daemon uses (its unit, its credential file, its
state and log folders) and runs a command with a deadline; tests pass one pointing at a
temp folder. `security_exposure` reads ``systemd-analyze security``'s overall figure
(the parser tools/bench_systemd.py uses too).

Example::

    machine = Machine.here()
    code, text = machine.run(("systemctl", "is-active", "voice-kiosk"), 3.0)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

UNIT = "voice-kiosk.service"
UNIT_FILES = tuple(
    Path(folder) / UNIT
    for folder in ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
)
CREDSTORE_KEY = Path("/etc/credstore/voice-kiosk.openai-api-key")  # the unit's LoadCredential=
DATA_DIRS = (Path("/var/lib/voice-kiosk"), Path("/var/log/voice-kiosk"))
EXPOSURE_TARGET = 2.5

_OVERALL = re.compile(r"Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)")
_TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised


def parse_exposure(text: str) -> float | None:
    """The overall exposure in ``systemd-analyze security`` output (0 locked down, 10 open)."""
    found = _OVERALL.search(text)
    return float(found.group(1)) if found else None


def run_command(argv: Sequence[str], timeout_s: float) -> tuple[int, str]:
    """(exit code, stdout and stderr); 127 when the program is missing, 124 on timeout."""
    program = shutil.which(argv[0])
    if program is None:
        return 127, f"{argv[0]}: not installed"
    try:
        done = subprocess.run(
            [program, *argv[1:]],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]}: no answer within {timeout_s:g} s"
    except OSError as exc:
        return 126, f"{argv[0]}: {exc.strerror or exc}"
    return done.returncode, (done.stdout + done.stderr).strip()


def kernel_clock_synchronised() -> bool | None:
    """The kernel's own flag (adjtimex(2), read only): None when it cannot be asked."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        timex = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
        state = int(libc.adjtimex(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR


@dataclass(frozen=True)
class Machine:
    """The places and commands the checkup uses; `Machine.here` for this machine."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    unit: str = UNIT
    unit_files: tuple[Path, ...] = UNIT_FILES
    credstore_key: Path = CREDSTORE_KEY
    data_dirs: tuple[Path, ...] = DATA_DIRS
    systemd_booted: Callable[[], bool] = lambda: Path("/run/systemd/system").is_dir()
    run: Callable[[Sequence[str], float], tuple[int, str]] = run_command
    kernel_clock: Callable[[], bool | None] = kernel_clock_synchronised

    @classmethod
    def here(cls) -> Machine:
        return cls()

    def unit_state(self, timeout_s: float = 3.0) -> str | None:
        """``systemctl is-active`` of the unit (active, inactive, failed, activating, ...);
        None without systemd."""
        if not self.systemd_booted():
            return None
        code, text = self.run(("systemctl", "is-active", self.unit), timeout_s)
        if code in (124, 126, 127):
            return None
        return text.splitlines()[0].strip() if text else "unknown"

    def daemon_running(self) -> bool:
        """True when the unit runs now (it then holds the sound card and the pins)."""
        return self.unit_state() in ("active", "activating", "reloading", "deactivating")

    def installed_unit(self) -> Path | None:
        """The unit's file: systemd's FragmentPath, else the first of ``unit_files``."""
        if self.systemd_booted():
            code, text = self.run(
                ("systemctl", "show", "-p", "FragmentPath", "--value", self.unit), 3.0
            )
            if code == 0 and text.strip() and Path(text.strip()).is_file():
                return Path(text.strip())
        return next((p for p in self.unit_files if p.is_file()), None)
