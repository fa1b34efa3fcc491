"""`make demo`: the full daemon against the local Realtime emulator, no key, no hardware.

Starts the emulator on a free loopback port with tools/scenarios/demo.yaml, runs
`voice-kiosk run` on firmware_config/examples/demo.yaml (a committed spoken caller as the
microphone, who talks over the device once to interrupt it; a WAV file as the speaker),
prints the daemon's timeline and a short summary, and leaves demo-output/summary.json and
demo-output/reply.wav.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"

# The emulator accepts any bearer token; this one is not a secret.
EMULATOR_KEY = "local-emulator-no-key-needed"


def start_emulator(scenario: Path, log_path: Path) -> tuple[subprocess.Popen[str], str]:
    """Start the emulator on a free port; return the process and its ws:// URL.

    Its own log goes to ``log_path``, so the daemon's timeline stays readable.
    """
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.realtime_emulator",
                "--port",
                "0",
                "--script",
                str(scenario),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"demo: the emulator did not start (said {line!r}; see {log_path})")
    return proc, line.removeprefix("listening on ") + "/v1/realtime"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=str(ROOT / "firmware_config/examples/demo.yaml"))
    parser.add_argument("--scenario", default=str(ROOT / "tools/scenarios/demo.yaml"))
    args = parser.parse_args(argv)

    OUT.mkdir(exist_ok=True)
    summary_path = OUT / "summary.json"
    summary_path.unlink(missing_ok=True)
    emulator, url = start_emulator(Path(args.scenario), OUT / "emulator.log")
    print(f"demo: Realtime emulator at {url}")
    try:
        env = dict(os.environ, OPENAI_API_KEY=EMULATOR_KEY)
        code = subprocess.call(
            [
                sys.executable,
                "-m",
                "device",
                "run",
                "--config",
                args.config,
                "--realtime-url",
                url,
                "--summary-json",
                str(summary_path),
            ],
            cwd=ROOT,
            env=env,
        )
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    if code != 0 or not summary_path.exists():
        print(f"demo: the daemon exited with code {code}", file=sys.stderr)
        return code or 1
    summary = json.loads(summary_path.read_text())
    print()
    print(
        f"demo: {summary['turns']} turn(s), {len(summary['tool_calls'])} tool call(s), "
        f"{summary['reply_audio_ms'] / 1000:.1f} s of reply audio received, "
        f"{summary['prompt_audio_ms'] / 1000:.1f} s of local prompts"
    )
    for i, ms in enumerate(summary["first_audio_latency_ms"], 1):
        print(f"demo: turn {i}: first reply audio {ms:.0f} ms after the caller stopped")
    for n, (cut, stop) in enumerate(
        zip(summary["truncated_at_ms"], summary["interrupt_stop_ms"], strict=True), 1
    ):
        where = f"cut at {cut} ms of the reply" if cut is not None else "nothing to cut"
        silent = f", speaker silent {stop:.0f} ms later" if stop is not None else ""
        print(f"demo: interruption {n}: the caller spoke over the reply: {where}{silent}")
    for ms in summary["hangup_ms"]:
        print(f"demo: hung up {ms:.0f} ms after the model asked to end (budget 1500 ms)")
    if summary["errors"]:
        print(f"demo: errors: {summary['errors']}")
    print(f"demo: wrote {summary_path.relative_to(ROOT)} and demo-output/reply.wav")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
