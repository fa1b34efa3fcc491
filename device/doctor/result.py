"""One check's result and the checkup's table and JSON (pure: no I/O but the stream given).

Example::

    results = [passed("disk", "12.3 GB free on /var/lib/voice-kiosk")]
    write_table(results, sys.stdout)       # check, PASS/FAIL/SKIP, detail, and a fix line
    print(json.dumps(as_json(results)))    # {"checks": [...], "ok": true}
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from device.common.text import one_line


class Status(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """``detail``: one line for an installer; ``fix``: what to do, for a failure only."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
            "seconds": round(self.seconds, 2),
        }


def passed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.PASS, one_line(detail, 300))


def failed(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.FAIL, one_line(detail, 300), one_line(fix, 300))


def skipped(name: str, why: str) -> CheckResult:
    return CheckResult(name, Status.SKIP, one_line(why, 300))


def all_passed(results: Sequence[CheckResult]) -> bool:
    """True when no check failed (a skipped check is not a failure)."""
    return all(r.status is not Status.FAIL for r in results)


NAME_WIDTH = 11


def write_row(result: CheckResult, out: TextIO) -> None:
    """One check: ``name  PASS  detail``, and under a failure ``fix: what to do``."""
    out.write(f"  {result.name:<{NAME_WIDTH}} {result.status.name}  {result.detail}\n")
    if result.fix:
        out.write(f"  {'':<{NAME_WIDTH}} fix:  {result.fix}\n")
    out.flush()


def write_summary(results: Sequence[CheckResult], seconds: float, out: TextIO) -> None:
    counts = {s: sum(r.status is s for r in results) for s in Status}
    verdict = "all passed" if all_passed(results) else "a check FAILED: see its fix line"
    out.write(
        f"{len(results)} checks: {counts[Status.PASS]} passed, {counts[Status.FAIL]} failed,"
        f" {counts[Status.SKIP]} skipped in {seconds:.1f} s: {verdict}\n"
    )


def write_table(results: Sequence[CheckResult], out: TextIO, seconds: float = 0.0) -> None:
    for result in results:
        write_row(result, out)
    write_summary(results, seconds, out)


def as_json(results: Sequence[CheckResult]) -> dict[str, Any]:
    """``{"checks": [{name, status, detail, fix, seconds}], "ok": bool}``; with a failure,
    also ``"error"``: the failed checks in one line (``name: detail; ...``)."""
    report: dict[str, Any] = {
        "checks": [r.as_dict() for r in results],
        "ok": all_passed(results),
    }
    failures = [f"{r.name}: {r.detail}" for r in results if r.status is Status.FAIL]
    if failures:
        report["error"] = one_line("; ".join(failures), 600)
    return report
