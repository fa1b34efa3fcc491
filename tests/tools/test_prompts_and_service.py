"""make_prompts on a prompts YAML, and the job-status service's command line.

The committed prompts and a site's folder (make-prompts): tests/test_prompts.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import wave
from pathlib import Path

import httpx
import pytest

from device.audio.frames import SPEECH_RATE_HZ
from device.prompts.making import main

ROOT = Path(__file__).resolve().parents[2]


def test_make_prompts_writes_a_speakable_wav(tmp_path: Path) -> None:
    source = tmp_path / "p.yaml"
    source.write_text("hello: Hello there.\n")
    assert main(["--prompts", str(source), "--out", str(tmp_path / "out")]) == 0
    with wave.open(str(tmp_path / "out/hello.wav"), "rb") as w:
        assert w.getframerate() == SPEECH_RATE_HZ and w.getnframes() > SPEECH_RATE_HZ // 2


def test_make_prompts_refuses_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "p.yaml"
    source.write_text("Bad Name: x\n")
    assert main(["--prompts", str(source)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("'Bad Name': names are lower-case letters, digits, _ and -")
    assert "\n" not in err


def test_job_service_command_line() -> None:
    env = {**os.environ, "JOB_SERVICE_TOKEN": "cli-token"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.job_status_service", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        client = httpx.Client(trust_env=False)
        assert client.get(url + "/jobs/4172").status_code == 401
        ok = client.get(url + "/jobs/4172", headers={"Authorization": "Bearer cli-token"})
        assert ok.json()["status"] == "in progress"
        assert ok.headers["server-timing"].startswith("app;dur=")
        control = client.post(url + "/_control", json={"mode": "500"})
        assert control.json() == {"mode": "500", "delay_ms": 0.0}
        failing = client.get(url + "/jobs/4172", headers={"Authorization": "Bearer cli-token"})
        assert failing.status_code == 500
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
