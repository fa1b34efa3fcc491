"""Every runtime dependency installs on a Pi from aarch64 wheels, for Bookworm's Python
3.11 and Trixie's 3.13, except the few that build from source in the venv (a compiler and
their -dev packages, which tools/install.sh installs). A new dependency that would need a
compiler on the Pi fails here: add it to SOURCE_ONLY only after adding its build packages
to tools/install.sh."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
# Pi OS Bookworm has glibc 2.36, Trixie 2.41: wheels for glibc 2.28 or older install on
# both. pip does not widen one --platform to the older manylinux tags (rpds-py, say, is
# manylinux_2_17 only), so each is named.
PLATFORMS = [f"manylinux_2_{minor}_aarch64" for minor in range(28, 16, -1)]
PLATFORMS.append("manylinux2014_aarch64")
PYTHONS = ("3.11", "3.13")  # Bookworm, Trixie
# no aarch64 wheels: built in the venv by tools/install.sh (gcc, python3-dev and:)
SOURCE_ONLY = {
    "pyaudio": "portaudio19-dev",
    "spidev": "(linux headers only)",
    "systemd-python": "libsystemd-dev, pkg-config",
}
EXTRA = ["silero-vad>=5.1,<7"]  # tools/install.sh installs it --no-deps, for its model


def _name(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert found, requirement
    return re.sub(r"[-_.]+", "-", found.group(0)).lower()


def runtime_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [r for r in project["dependencies"] if _name(r) not in SOURCE_ONLY]


def download(
    tmp: Path, python: str, requirements: list[str], *deps: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--disable-pip-version-check",
            "-d",
            str(tmp),
            *(f"--platform={p}" for p in PLATFORMS),
            "--python-version",
            python,
            "--implementation",
            "cp",
            "--only-binary=:all:",
            *deps,
            *requirements,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_source_only_list_names_only_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    assert {"pyaudio", "systemd-python"} <= names
    assert set(SOURCE_ONLY) - names <= {"spidev"}  # spidev: the APA102 ring, when declared


@pytest.mark.parametrize("python", PYTHONS)
def test_every_other_runtime_dependency_has_an_aarch64_wheel(tmp_path: Path, python: str) -> None:
    done = download(tmp_path, python, runtime_requirements() + EXTRA)
    lines = [line for line in done.stderr.splitlines() if "is ignored" not in line]
    assert done.returncode == 0, "\n".join(lines[-15:])
    wheels = sorted(p.name for p in tmp_path.glob("*.whl"))
    assert any(w.startswith("onnxruntime-") and "aarch64" in w for w in wheels), wheels
    assert not list(tmp_path.glob("*.tar.gz")) and not list(tmp_path.glob("*.zip"))


@pytest.mark.parametrize("python", PYTHONS)
def test_the_source_only_ones_still_have_no_aarch64_wheel(tmp_path: Path, python: str) -> None:
    """When one gets a wheel, drop it from SOURCE_ONLY (and maybe its -dev package)."""
    for name in SOURCE_ONLY:
        done = download(tmp_path, python, [name], "--no-deps")
        assert done.returncode != 0, f"{name} now has an aarch64 wheel for {python}"
