"""Fault control over HTTP, for an emulator running as a subprocess (same port as the API).

Plain ``GET`` requests (curl, httpx, urllib), each answered with JSON:

- ``/emulator/state``: the switches, session counts and the faults fired so far;
- ``/emulator/configure?refuse=503&refuse_times=2``: change handshake switches (values are
  YAML scalars: ``refuse=null``, ``scripted=false``), as ``Emulator.configure``;
- ``/emulator/inject?fault={close: 1011}`` (URL-encoded; ``&session=N`` for one session):
  one fault now, as ``Emulator.inject``;
- ``/emulator/heal``: healthy again, as ``Emulator.heal``.

A bad request is HTTP 400 with ``{"error": "<one line>"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from tools.realtime_emulator.checks import ScenarioError
from tools.realtime_emulator.faults import parse_text

if TYPE_CHECKING:
    from tools.realtime_emulator.server import Emulator

CONTROL_PATH = "/emulator/"


def state(emu: Emulator) -> dict[str, Any]:
    return {
        "switches": emu.switches.as_dict(),
        "sessions": emu.sessions,
        "open_connections": emu.open_connections,
        "refused": emu.refused,
        "fired": [{"session": f.session, "kind": f.kind} for f in emu.fired],
    }


async def control(emu: Emulator, target: str) -> tuple[int, dict[str, Any]]:
    """Answer one control request (``target`` is the request path with its query)."""
    url = urlsplit(target)
    op = url.path.rstrip("/").removeprefix(CONTROL_PATH.rstrip("/")).strip("/")
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    try:
        if op == "state":
            pass
        elif op == "heal":
            emu.heal()
        elif op == "configure":
            emu.configure(**{k: parse_text(v, f"configure.{k}") for k, v in query.items()})
        elif op == "inject":
            if "fault" not in query:
                raise ScenarioError("inject: missing parameter 'fault', e.g. fault={close: 1011}")
            fault = parse_text(query["fault"], "inject.fault")
            raw = query.get("session")
            if raw is not None and not raw.isdigit():
                raise ScenarioError(f"inject.session: expected a session number, got {raw!r}")
            session = int(raw) if raw is not None else None
            if not isinstance(fault, dict):
                raise ScenarioError(f"inject.fault: expected a mapping, got {fault!r}")
            hit = await emu.inject(fault, session=session)
            return 200, {"injected": hit, **state(emu)}
        else:
            ops = "state, configure, inject, heal"
            return 404, {"error": f"unknown control {op!r} (expected one of {ops})"}
    except ScenarioError as exc:
        return 400, {"error": str(exc)}
    return 200, state(emu)
