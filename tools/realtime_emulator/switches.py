"""Connection-level fault switches: refuse or slow the handshake, hold session.created back.

Mutable on purpose: ``Emulator.configure`` changes them at run time, and each new
connection reads them when it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.realtime_emulator.checks import flag, integer, known


@dataclass
class Switches:
    """Connection-level switches (mutable: changed at run time by ``Emulator.configure``).

    ``refuse`` answers the WebSocket handshake with that HTTP status (401, 403, 429, 500, 503,
    ...), ``refuse_times`` times (None: every handshake while it is set), with a
    ``Retry-After`` header when ``retry_after_s`` is set. ``handshake_delay_ms`` holds the
    handshake answer back; ``created_delay_ms`` holds ``session.created`` back after it.
    ``scripted`` False switches the scenario's turn and clock faults off.
    """

    refuse: int | None = None
    refuse_times: int | None = None
    retry_after_s: int | None = None
    handshake_delay_ms: int = 0
    created_delay_ms: int = 0
    scripted: bool = True

    def update(self, changes: dict[str, Any], path: str = "connection") -> None:
        """Validate and apply ``changes`` (keys as the attributes); ScenarioError if bad."""
        known(changes, path, set(SWITCH_KEYS))
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            p = f"{path}.{key}"
            if key == "scripted":
                checked[key] = flag(value, p)
            elif value is None and key in ("refuse", "refuse_times", "retry_after_s"):
                checked[key] = None
            elif key == "refuse":
                checked[key] = integer(value, p, 400, 599)
            elif key in ("refuse_times", "retry_after_s"):
                checked[key] = integer(value, p, 0, 1_000_000)
            else:
                checked[key] = integer(value, p, 0, 600_000)
        for key, value in checked.items():
            setattr(self, key, value)

    def take_refusal(self) -> int | None:
        """The status to refuse this handshake with (counting ``refuse_times`` down)."""
        if self.refuse is None:
            return None
        if self.refuse_times is not None:
            if self.refuse_times <= 0:
                return None
            self.refuse_times -= 1
        return self.refuse

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in SWITCH_KEYS}


SWITCH_KEYS = (
    "refuse",
    "refuse_times",
    "retry_after_s",
    "handshake_delay_ms",
    "created_delay_ms",
    "scripted",
)
