"""``python -m tools.realtime_emulator --port PORT --script SCENARIO.yaml [fault switches]``.

The first line on stdout is ``listening on ws://HOST:PORT`` (the API is at ``/v1/realtime``;
fault control at ``/emulator/``, see `control`). Ctrl-C or SIGTERM stop it; a bad scenario
or a bad fault switch is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from tools.realtime_emulator.checks import ScenarioError, known, mapping
from tools.realtime_emulator.faults import (
    FAULT_KEYS,
    TurnFault,
    parse_clock_fault,
    parse_text,
    parse_turn_faults,
)
from tools.realtime_emulator.scenario import Scenario
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
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="YAML",
        help="a clock fault, as under the scenario's faults:, e.g. '{after_ms: 2000, close: 1011}'",
    )
    p.add_argument(
        "--turn-fault",
        action="append",
        default=[],
        metavar="N=YAML",
        help="faults for turn N (from 0), as in a turn, e.g. '0={close: 1006, fault_at: 3}'",
    )
    p.add_argument(
        "--refuse", type=int, help="answer handshakes with this HTTP status (401, 429, 503)"
    )
    p.add_argument("--refuse-times", type=int, help="refuse only the next N handshakes")
    p.add_argument("--retry-after-s", type=int, help="Retry-After header on refusals")
    p.add_argument("--handshake-delay-ms", type=int, default=0, help="hold each handshake back")
    p.add_argument(
        "--created-delay-ms", type=int, default=0, help="hold session.created back after it"
    )
    p.add_argument("--verbose", action="store_true", help="log every event")
    return p


def _with_cli_faults(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    clock = tuple(
        parse_clock_fault(parse_text(spec, f"--fault[{i}]"), f"--fault[{i}]")
        for i, spec in enumerate(args.fault)
    )
    turns: dict[int, tuple[TurnFault, ...]] = {}
    for spec in args.turn_fault:
        index, sep, body = spec.partition("=")
        if not sep or not index.strip().isdigit():
            raise ScenarioError(f"--turn-fault {spec!r}: expected N=YAML, e.g. 0={{close: 1011}}")
        path = f"--turn-fault {index.strip()}"
        d = mapping(parse_text(body, path), path)
        known(d, path, {*FAULT_KEYS, "fault_at"})
        n = int(index)
        turns[n] = turns.get(n, ()) + parse_turn_faults(d, path)
    return scenario.with_faults(clock, turns)


async def _serve(args: argparse.Namespace, emulator: Emulator) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with emulator:
        print(f"listening on ws://{args.host}:{emulator.port}", flush=True)
        await stop.wait()


def _build(args: argparse.Namespace) -> Emulator:
    scenario = _with_cli_faults(Scenario.load(args.script), args)
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
    switches = {
        "refuse": args.refuse,
        "refuse_times": args.refuse_times,
        "retry_after_s": args.retry_after_s,
        "handshake_delay_ms": args.handshake_delay_ms,
        "created_delay_ms": args.created_delay_ms,
    }
    emulator.configure(**{k: v for k, v in switches.items() if v})
    return emulator


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.latency_ms < 0 or (args.max_session_s is not None and args.max_session_s <= 0):
        print("--latency-ms must be >= 0 and --max-session-s > 0", file=sys.stderr)
        return 2
    try:
        emulator = _build(args)
    except ScenarioError as exc:
        print(f"{args.script}: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s emulator %(message)s"
    )
    logging.getLogger("tools.realtime_emulator.websockets").setLevel(logging.WARNING)
    try:
        asyncio.run(_serve(args, emulator))
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
