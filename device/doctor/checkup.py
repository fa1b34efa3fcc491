"""The whole checkup: every check, each under a deadline, a table or one JSON object.

The config first (every other check needs it), then the rest at once, each chain in its
own thread: the key then the Realtime session; the microphone then the speaker; the wake
word; the button then the LEDs; disk; clock; the unit then its hardening. A check that
overruns its deadline is a FAIL ("no answer within N s") and the checkup goes on: the
whole takes well under a minute. Rows print in a fixed order as their checks finish.

Example::

    code = run_checkup(Path("/etc/voice-kiosk/config.yaml"), sys.stdout)   # 0, 1 or 2
    code = run_checkup(path, sys.stdout, as_json=True)   # {"checks": [...], "ok": ...}
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from device.config.settings import Settings
from device.doctor.audio import check_audio_in, check_audio_out
from device.doctor.checks import (
    check_button,
    check_clock,
    check_credential,
    check_disk,
    check_leds,
    check_realtime,
    check_security,
    check_unit,
    check_wake,
)
from device.doctor.machine import Machine
from device.doctor.result import (
    CheckResult,
    Status,
    all_passed,
    as_json,
    failed,
    passed,
    skipped,
    write_row,
    write_summary,
)

INSTALLED_CONFIG = Path("/etc/voice-kiosk/config.yaml")
CHECKS = (
    "config", "credential", "realtime", "audio_in", "audio_out", "wake_word",
    "button", "leds", "disk", "clock", "unit", "security",
)  # fmt: skip
EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2

Emit = Callable[[CheckResult], None]


def check_config(path: Path | None) -> tuple[CheckResult, Settings | None]:
    """Load ``path`` (None: the installed config, or the built-in defaults) and run the
    start-up checks ``run`` runs; the settings when they loaded."""
    from device.config.loader import ConfigError, load_settings, startup_problems

    name = "config"
    if path is None and not INSTALLED_CONFIG.exists():
        why = f"no --config FILE and no {INSTALLED_CONFIG}: the built-in defaults are checked"
        return skipped(name, why), Settings()
    path = path or INSTALLED_CONFIG
    fix = f"fix each line voice-kiosk check-config {path} prints"
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        return failed(name, _first_of(exc.problems), fix), None
    except Exception as exc:  # a bug must still be one line
        return failed(name, f"{path}: cannot read it ({type(exc).__name__}: {exc})", fix), None
    problems = startup_problems(settings, path)
    if problems:
        return failed(name, _first_of(problems), fix), settings
    return passed(name, f"{path} is valid and run can start with it"), settings


def _first_of(problems: Sequence[str]) -> str:
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more)" if more > 0 else "")


@dataclass
class _Job:
    """A chain of checks in one thread; ``results`` filled as each check finishes."""

    names: tuple[str, ...]
    deadline_s: float
    body: Callable[[Emit], None]
    results: dict[str, CheckResult] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"doctor-{self.names[0]}", daemon=True).start()

    def _run(self) -> None:
        last = time.monotonic()

        def emit(result: CheckResult) -> None:
            nonlocal last
            now = time.monotonic()
            result = CheckResult(result.name, result.status, result.detail, result.fix, now - last)
            last = now
            with self.changed:
                self.results[result.name] = result
                self.changed.notify_all()

        try:
            self.body(emit)
        except BaseException as exc:  # never a traceback: the checks not done say why
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            for name in self.names:
                if name not in self.results:
                    broke = f"the check broke: {type(exc).__name__}: {text}"
                    emit(
                        failed(name, broke, "run voice-kiosk doctor again; if it fails, report it")
                    )
        finally:
            with self.changed:
                self.done.set()
                self.changed.notify_all()

    def wait_for(self, name: str, until: float) -> CheckResult:
        with self.changed:
            while name not in self.results and not self.done.is_set():
                left = until - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(left)
            if name in self.results:
                return self.results[name]
        return failed(
            name,
            f"no answer within {self.deadline_s:g} s",
            "what it checks hangs (see the other lines); run voice-kiosk doctor again",
        )


def _jobs(settings: Settings | None, machine: Machine, running: bool) -> list[_Job]:
    def needs_config(*names: str) -> Callable[[Emit], None]:
        def body(emit: Emit) -> None:
            for name in names:
                emit(skipped(name, "the config did not load (see config)"))

        return body

    def key_then_session(emit: Emit) -> None:
        assert settings is not None
        result, key = check_credential(settings, machine)
        emit(result)
        emit(check_realtime(settings, key))

    def mic_then_speaker(emit: Emit) -> None:
        assert settings is not None
        emit(check_audio_in(settings.audio, running))
        emit(check_audio_out(settings.audio, running))

    def button_then_leds(emit: Emit) -> None:
        assert settings is not None
        emit(check_button(settings, running))
        emit(check_leds(settings, running))

    def unit_then_security(emit: Emit) -> None:
        emit(check_unit(machine))
        emit(check_security(machine))

    with_settings: list[tuple[tuple[str, ...], float, Callable[[Emit], None]]] = [
        (("credential", "realtime"), 16.0, key_then_session),
        (("audio_in", "audio_out"), 20.0, mic_then_speaker),
        (("wake_word",), 25.0, lambda emit: emit(check_wake(settings))),  # type: ignore[arg-type]
        (("button", "leds"), 10.0, button_then_leds),
        (("disk",), 5.0, lambda emit: emit(check_disk(settings, machine))),  # type: ignore[arg-type]
    ]
    jobs = [
        _Job(names, deadline, body if settings is not None else needs_config(*names))
        for names, deadline, body in with_settings
    ]
    jobs.append(_Job(("clock",), 5.0, lambda emit: emit(check_clock(machine))))
    jobs.append(_Job(("unit", "security"), 30.0, unit_then_security))
    return jobs


def run_checkup(
    path: Path | None,
    out: TextIO,
    *,
    as_json_output: bool = False,
    machine: Machine | None = None,
) -> int:
    """Every check; 0 all passed (skips allowed), 1 a check failed, 2 the config is bad."""
    machine = machine or Machine.here()
    started = time.monotonic()
    live = not as_json_output
    config, settings = check_config(path)
    config = CheckResult(
        config.name, config.status, config.detail, config.fix, time.monotonic() - started
    )
    if live:
        out.write(f"voice-kiosk doctor: {len(CHECKS)} checks (the key is never shown)\n")
        write_row(config, out)
    running = machine.daemon_running()
    jobs = _jobs(settings, machine, running)
    for job in jobs:
        job.start()
    by_name = {name: job for job in jobs for name in job.names}
    begun = time.monotonic()
    results = [config]
    for name in CHECKS[1:]:
        job = by_name[name]
        result = job.wait_for(name, begun + job.deadline_s)
        results.append(result)
        if live:
            write_row(result, out)
    seconds = time.monotonic() - started
    if live:
        write_summary(results, seconds, out)
    else:
        report: dict[str, Any] = as_json(results)
        report["seconds"] = round(seconds, 1)
        out.write(json.dumps(report) + "\n")
    if config.status is Status.FAIL:
        return EXIT_CONFIG
    return EXIT_OK if all_passed(results) else EXIT_FAIL
