"""tools/install.sh: valid bash (shellcheck-clean where shellcheck is installed), and its
--dry-run prints what it would run and changes nothing. It is never run for real here:
it changes the machine. The wheel carries the unit files provisioning installs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "install.sh"


def test_install_sh_is_valid_bash() -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(
    shutil.which("shellcheck") is None, reason="shellcheck (apt install shellcheck)"
)
def test_install_sh_passes_shellcheck() -> None:
    done = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_dry_run_prints_the_install_and_changes_nothing(tmp_path: Path) -> None:
    prefix, link = tmp_path / "opt", tmp_path / "bin" / "voice-kiosk"
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--prefix", str(prefix), "--bin-link", str(link)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    venv = prefix / "venv"
    assert f"+ python3 -m venv {venv}" in lines
    assert (
        f"+ {venv}/bin/python -m pip --disable-pip-version-check install -q --upgrade {ROOT}"
        in lines
    )
    assert (
        f"+ {venv}/bin/python {ROOT}/tools/fetch_models.py --dest {venv}/share/voice-kiosk/models"
    ) in lines
    assert f"+ ln -sfn {venv}/bin/voice-kiosk {link}" in lines
    assert lines[-2] == "install: dry run: nothing was changed"
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_option_is_exit_2() -> None:
    done = subprocess.run(["bash", str(SCRIPT), "--frm", "x"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "unknown option --frm" in done.stderr


@pytest.mark.slow
def test_the_wheel_carries_the_unit_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("voice_kiosk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for unit in (
        "voice-kiosk.service",
        "voice-kiosk-audio.service",
        "voice-kiosk-audio.pa",
        "voice-kiosk.sysusers",
        "60-voice-kiosk.rules",
    ):
        assert f"device/provision/units/{unit}" in names
