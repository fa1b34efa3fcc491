"""The spend of each local day, kept across restarts (the cost guard's daily budget).

`Ledger` is pure: US dollars per day (an ISO date in the device's time zone), exact
`Decimal`, the last `KEEP_DAYS` days. `load_ledger` / `save_ledger` are its small adapter:
one JSON file, ``spend.json``, in the state folder (``metrics.state_dir``, else systemd's
``StateDirectory=``, ``$STATE_DIRECTORY``), written atomically (a temporary file, fsync,
rename) with mode 0600. A file that cannot be read is logged once and counts as empty: the
budget must never stop the device from starting.

Who writes what: the conversation engine keeps the books (device/conversation/budget.py)
and reports each response's cost with the day's total (`CostReported`); the metrics
service records that total here; at start the engine's policy is seeded from this file
(device/daemon/engine_policy.py).

Example::

    ledger = load_ledger(path)          # {} when there is no file yet
    ledger.record("2025-06-01", Decimal("1.25"))
    save_ledger(path, ledger)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import time
import zoneinfo
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path

from device.metrics.settings import MetricsSettings

log = logging.getLogger(__name__)

FILE_NAME = "spend.json"
KEEP_DAYS = 62
MAX_FILE_BYTES = 65536


def time_zone(name: str | None) -> dt.tzinfo | None:
    """The configured zone (None: the device's own local time)."""
    return zoneinfo.ZoneInfo(name) if name else None


def local_day(epoch_s: float, tz: dt.tzinfo | None) -> str:
    """The ISO date at ``epoch_s`` in ``tz`` (None: the device's local time)."""
    return dt.datetime.fromtimestamp(epoch_s, tz).date().isoformat()


def wall_clock_day(
    tz: dt.tzinfo | None, clock: Callable[[], float] = time.time
) -> Callable[[float], str]:
    """The engine's ``local_day(now_ms)``: the local date on the wall clock when asked
    (not from ``now_ms``: a Pi without a real-time clock may set its clock after start)."""

    def day(now_ms: float) -> str:
        return local_day(clock(), tz)

    return day


class Ledger:
    """US dollars spent per local day (pure; the last `KEEP_DAYS` days)."""

    def __init__(self, days: Mapping[str, Decimal] | None = None) -> None:
        self._days: dict[str, Decimal] = dict(days or {})

    @property
    def days(self) -> Mapping[str, Decimal]:
        return dict(self._days)

    def record(self, day: str, total: Decimal) -> bool:
        """The day's total so far; True when it changed."""
        if self._days.get(day) == total:
            return False
        self._days[day] = total
        for old in sorted(self._days)[:-KEEP_DAYS]:
            del self._days[old]
        return True

    def to_json(self) -> str:
        days = {day: str(total) for day, total in sorted(self._days.items())}
        return json.dumps({"version": 1, "days": days}, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Ledger:
        """ValueError naming what is wrong when ``text`` is not a ledger."""
        data = json.loads(text)
        days = data.get("days") if isinstance(data, dict) else None
        if not isinstance(days, dict):
            raise ValueError("no 'days' object")
        out: dict[str, Decimal] = {}
        for day, total in days.items():
            try:
                dt.date.fromisoformat(day)
                value = Decimal(total)
            except (TypeError, ValueError, InvalidOperation):
                raise ValueError(f"day {str(day)[:20]!r}: not a date and an amount") from None
            if not value.is_finite() or value < 0:
                raise ValueError(f"day {day}: not an amount ({str(total)[:20]})")
            out[day] = value
        return cls(out)


def ledger_path(settings: MetricsSettings, environ: Mapping[str, str]) -> Path | None:
    """Where the spend is kept: ``state_dir``, else systemd's first StateDirectory."""
    if settings.state_dir is not None:
        return settings.state_dir / FILE_NAME
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state) / FILE_NAME if state else None


def load_ledger(path: Path | None) -> Ledger:
    """The ledger in ``path`` (empty when there is none, or it cannot be read: logged)."""
    if path is None or not path.exists():
        return Ledger()
    try:
        with path.open("rb") as f:
            text = f.read(MAX_FILE_BYTES + 1)
        if len(text) > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
        return Ledger.from_json(text.decode("utf-8"))
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeError are ValueErrors
        log.warning("the day's spend in %s cannot be read (%s): counting from zero", path, exc)
        return Ledger()


def save_ledger(path: Path, ledger: Ledger) -> None:
    """Write ``path`` atomically, mode 0600 (OSError when the folder is not writable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a stale temporary file keeps its mode otherwise
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(ledger.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
