"""``python -m tools.realtime_emulator --port PORT --script SCENARIO.yaml``.

The first line on stdout is ``listening on ws://HOST:PORT`` (the API is at ``/v1/realtime``).
Ctrl-C or SIGTERM stop it; a bad scenario is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from tools.realtime_emulator.scenario import Scenario, ScenarioError
from tools.realtime_emulator.server import Emulator


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.realtime_emulator",
        description="Local OpenAI Realtime (GA) emulator on loopback, driven by a scenario.",
    )
    p.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    p.add_argument("--script", required=True, help="scenario YAML (see tools/scenarios/demo.yaml)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--latency-ms", type=int, default=0, help="delay before each response's audio")
    p.add_argument(
        "--max-session-s",
        type=float,
        default=None,
        help="end each session after this many seconds (error session_expired, close 1001)",
    )
    p.add_argument("--verbose", action="store_true", help="log every event")
    return p


async def _serve(args: argparse.Namespace, scenario: Scenario) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log = logging.getLogger("tools.realtime_emulator")

    def show(direction: str, event: dict[str, object]) -> None:
        if args.verbose:
            log.info("%s %s", "<-" if direction == "client" else "->", event.get("type"))

    emulator = Emulator(
        scenario,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        max_session_s=args.max_session_s,
        on_event=show,
    )
    async with emulator:
        print(f"listening on ws://{args.host}:{emulator.port}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        scenario = Scenario.load(args.script)
    except ScenarioError as exc:
        print(f"{args.script}: {exc}", file=sys.stderr)
        return 2
    if args.latency_ms < 0 or (args.max_session_s is not None and args.max_session_s <= 0):
        print("--latency-ms must be >= 0 and --max-session-s > 0", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s emulator %(message)s"
    )
    logging.getLogger("tools.realtime_emulator.websockets").setLevel(logging.WARNING)
    try:
        asyncio.run(_serve(args, scenario))
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
