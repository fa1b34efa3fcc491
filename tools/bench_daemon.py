"""Benchmark: ``start_to_ready_ms``, process start to ``READY=1`` on systemd's notify socket.

The real command line (``python -m device run``) on the demo's config, as systemd starts
it: a notify socket bound here (``$NOTIFY_SOCKET``), the local Realtime emulator on
loopback, the wake-word models and the local speech detector loaded, the warm session set
up. Each start is timed from ``Popen`` to the ``READY=1`` datagram, then the daemon is
stopped with SIGTERM (its exit within ``stop_ms``: the unit's TimeoutStopSec must cover
it). Target: median <= 1500 ms on the build machine.

    python tools/bench_daemon.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "firmware_config/examples/demo.yaml"
READY_TIMEOUT_S = 30.0


def _emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.realtime_emulator",
            "--port",
            "0",
            "--script",
            str(ROOT / "tools/scenarios/demo.yaml"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on " not in line:
        proc.kill()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return proc, line.split("listening on ", 1)[1].strip() + "/v1/realtime"


def _one_start(url: str, folder: Path, n: int) -> tuple[float, float]:
    """(ms to READY=1, ms from SIGTERM to exit)."""
    path = folder / f"notify-{n}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    env = dict(os.environ, NOTIFY_SOCKET=str(path), OPENAI_API_KEY="bench-key")
    env.pop("WATCHDOG_USEC", None)
    start = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "device",
            "run",
            "--config",
            str(DEMO),
            "--realtime-url",
            url,
            "--set",
            f"audio.output.path={folder / 'reply.wav'}",
            "--set",
            f"tools.audit_log={folder / 'audit.jsonl'}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready_ms = None
        deadline = start + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = sock.recv(4096).decode()
            except TimeoutError:
                break
            if "READY=1" in data.split("\n"):
                ready_ms = (time.monotonic() - start) * 1000.0
                break
        if ready_ms is None:
            raise RuntimeError(f"no READY=1 within {READY_TIMEOUT_S:g} s")
        stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        return ready_ms, (time.monotonic() - stop) * 1000.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()


def run(quick: bool) -> dict[str, Any]:
    repeats = 3 if quick else 7
    emulator, url = _emulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            timings = [_one_start(url, Path(tmp), n) for n in range(repeats)]
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    ready = [r for r, _ in timings]
    stops = [s for _, s in timings]
    return {
        "start_to_ready_ms": round(statistics.median(ready), 1),
        "start_to_ready_ms_max": round(max(ready), 1),
        "start_to_ready_repeats": repeats,
        "stop_ms": round(statistics.median(stops), 1),
        "stop_ms_max": round(max(stops), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
