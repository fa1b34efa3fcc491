"""MemoryDenyWriteExecute=yes holds for the daemon's native libraries.

tests/systemd/mdwe_probe.py installs the seccomp filter systemd installs for that setting
and then imports and runs what the daemon does (onnxruntime with every model in the
models folder, PortAudio, numpy, soxr, TLS, ...). The control proves the filter bites: a
library linked with an executable stack fails to load under it, as onnxruntime builds
with one would under systemd.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from device.wake.models import default_models_dir

PROBE = Path(__file__).with_name("mdwe_probe.py")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "aarch64"), reason="the probe knows x86_64 and aarch64"
)


def _probe(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(PROBE), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_daemons_libraries_run_under_memory_deny_write_execute() -> None:
    models = default_models_dir()
    if not any(models.glob("*.onnx")):
        pytest.skip(f"no models in {models} (tools/setup.sh fetches them)")
    result = _probe(str(models))
    assert result["filter"] is True
    assert result["checks"] == {name: "ok" for name in result["checks"]}
    assert result["checks"]["onnx models"] == "ok"


def test_an_executable_stack_library_fails_under_the_filter(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("no C compiler for the control library")
    source = tmp_path / "f.c"
    source.write_text("int f(void) { return 1; }\n")
    for name, flags in (("exec", ["-z", "execstack"]), ("plain", [])):
        subprocess.run(
            ["gcc", "-shared", "-fPIC", *flags, "-o", str(tmp_path / f"lib{name}.so"), str(source)],
            check=True,
        )
    refused = _probe("--load", str(tmp_path / "libexec.so"))["checks"]["load"]
    assert "cannot enable executable stack" in refused
    assert _probe("--load", str(tmp_path / "libplain.so"))["checks"]["load"] == "ok"
