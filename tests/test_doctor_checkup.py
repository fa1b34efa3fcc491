"""`voice-kiosk doctor` (the checkup): every check against the local emulator, WAV-file
audio and a stand-in machine; the key refused, missing, never shown; the table and JSON;
the clock, the unit and its hardening from systemd's answers."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from device.cli.doctor import add_doctor_arguments, run_audio_doctor
from device.config.settings import Settings
from device.doctor.checks import check_clock, check_realtime, check_security, check_unit, find_key
from device.doctor.checkup import run_checkup
from device.doctor.machine import Machine, parse_exposure, run_command
from device.doctor.result import Status
from tests.helpers import KEY, ROOT, eventually, silence_wav, validate
from tools.realtime_emulator import Emulator, Scenario

SECRET = "sk-test-0123456789abcdef-never-printed"
UNIT = ROOT / "systemd/voice-kiosk.service"


def machine(tmp_path: Path, key: str | None = SECRET, **changes: Any) -> Machine:
    """This test's machine: the key in $OPENAI_API_KEY, no systemd, a synchronised clock."""
    fields: dict[str, Any] = {
        "env": {"OPENAI_API_KEY": key} if key is not None else {},
        "unit_files": (),
        "credstore_key": tmp_path / "no-credstore",
        "data_dirs": (tmp_path,),
        "systemd_booted": lambda: False,
        "kernel_clock": lambda: True,
    }
    fields.update(changes)
    return Machine(**fields)


def config(tmp_path: Path, url: str, extra: str = "") -> Path:
    caller = silence_wav(tmp_path, "caller", 0.5)
    path = tmp_path / "kiosk.yaml"
    path.write_text(
        f"realtime:\n  url: {url}\n"
        f"audio:\n  input: {{type: file, path: {caller}}}\n"
        f"  output: {{type: file, path: {tmp_path / 'reply.wav'}}}\n" + extra
    )
    return path


async def checkup(path: Path, m: Machine, *, as_json: bool = False) -> tuple[int, str]:
    """The checkup in a thread (it runs its own loops) while the emulator serves here."""
    out = io.StringIO()
    code = await asyncio.to_thread(run_checkup, path, out, as_json_output=as_json, machine=m)
    return code, out.getvalue()


def rows(text: str) -> dict[str, list[str]]:
    """check name -> [STATUS, detail, fix (or '')] from the table."""
    found: dict[str, list[str]] = {}
    last = ""
    for line in text.splitlines():
        parts = line.split(None, 2)
        if line.startswith("  ") and parts[0] == "fix:":
            found[last][2] = line.split("fix:", 1)[1].strip()
        elif line.startswith("  ") and len(parts) >= 2:
            last = parts[0]
            found[last] = [parts[1], parts[2] if len(parts) > 2 else "", ""]
    return found


async def test_a_healthy_device_on_the_emulator_passes_every_check(tmp_path: Path) -> None:
    async with Emulator(Scenario.from_dict({"turns": []}), on_event=validate) as emu:
        code, text = await checkup(config(tmp_path, emu.url), machine(tmp_path))
        assert emu.sessions == 1  # one session, closed at once
        await eventually(lambda: emu.open_connections == 0, 5, "the session closed")
    assert code == 0, text
    table = rows(text)
    assert list(table) == [
        "config", "credential", "realtime", "audio_in", "audio_out", "wake_word",
        "button", "leds", "disk", "clock", "unit", "security",
    ]  # fmt: skip
    for name in ("config", "credential", "realtime", "audio_in", "audio_out", "disk", "clock"):
        assert table[name][0] == "PASS", (name, text)
    for name in ("wake_word", "button", "leds", "unit", "security"):
        assert table[name][0] == "SKIP" and table[name][1], (name, text)
    assert "$OPENAI_API_KEY" in table["credential"][1]
    assert "12 checks: 7 passed, 0 failed, 5 skipped" in text
    assert SECRET not in text and "Traceback" not in text


async def test_a_refused_key_fails_the_realtime_check_with_a_fix(tmp_path: Path) -> None:
    async with Emulator(Scenario.from_dict({"turns": []}), on_event=validate) as emu:
        emu.configure(refuse=401)
        code, text = await checkup(config(tmp_path, emu.url), machine(tmp_path))
    assert code == 1
    status, detail, fix = rows(text)["realtime"]
    assert status == "FAIL" and "refused the API key (HTTP 401)" in detail
    assert "$OPENAI_API_KEY" in fix and "wrong or revoked" in fix
    assert SECRET not in text


async def test_no_key_fails_the_credential_check_and_skips_the_session(tmp_path: Path) -> None:
    code, text = await checkup(
        config(tmp_path, "ws://127.0.0.1:9/v1/realtime"), machine(tmp_path, None)
    )
    assert code == 1
    table = rows(text)
    assert table["credential"][0] == "FAIL" and "no API key found" in table["credential"][1]
    assert "openai-api-key" in table["credential"][2]
    assert table["realtime"][0] == "SKIP"


async def test_json_gives_each_check_and_ok_and_never_the_key(tmp_path: Path) -> None:
    async with Emulator(Scenario.from_dict({"turns": []}), on_event=validate) as emu:
        emu.configure(refuse=401)
        code, text = await checkup(config(tmp_path, emu.url), machine(tmp_path), as_json=True)
    assert code == 1 and SECRET not in text
    report = json.loads(text)
    assert report["ok"] is False and len(report["checks"]) == 12
    for check in report["checks"]:
        assert {"name", "status", "detail", "fix"} <= set(check)
        assert check["status"] in ("pass", "fail", "skip")
        assert bool(check["fix"]) == (check["status"] == "fail")
    assert report["error"].startswith("realtime: ")


@pytest.mark.slow
async def test_an_unreachable_server_and_a_silent_one_are_told_apart(tmp_path: Path) -> None:
    settings = Settings()
    key = find_key(settings, machine(tmp_path))
    closed = Settings(realtime=type(settings.realtime)(url="ws://127.0.0.1:9/v1/realtime"))
    result = await asyncio.to_thread(check_realtime, closed, key, 2.0)
    assert result.status is Status.FAIL and "connection refused" in result.detail
    assert "network" in result.fix
    async with Emulator(Scenario.from_dict({"turns": []})) as emu:
        emu.configure(handshake_delay_ms=5000)
        silent = Settings(realtime=type(settings.realtime)(url=emu.url))
        result = await asyncio.to_thread(check_realtime, silent, key, 1.0)
    assert result.status is Status.FAIL and "no handshake answer" in result.detail
    assert "proxy" in result.fix


async def test_a_bad_config_is_exit_2_with_the_problem_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("audio:\n  gate:\n    hangover: 3\n")
    code, text = await checkup(bad, machine(tmp_path))
    assert code == 2 and "Traceback" not in text
    table = rows(text)
    assert table["config"][0] == "FAIL" and "audio.gate.hangover" in table["config"][1]
    assert "check-config" in table["config"][2]
    assert table["audio_in"] == ["SKIP", "the config did not load (see config)", ""]
    assert table["clock"][0] == "PASS"  # what needs no config still runs


def test_the_command_line_runs_the_checkup_with_no_part_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def fake(path: Path | None, out: io.StringIO, *, as_json_output: bool) -> int:
        seen.append((path, as_json_output))
        return 0

    monkeypatch.setattr("device.doctor.checkup.run_checkup", fake)
    parser = argparse.ArgumentParser()
    add_doctor_arguments(parser)
    out = io.StringIO()
    assert run_audio_doctor(parser.parse_args(["--config", "k.yaml", "--json"]), out) == 0
    assert run_audio_doctor(parser.parse_args(["--all"]), out) == 0
    assert seen == [(Path("k.yaml"), True), (None, False)]
    assert run_audio_doctor(parser.parse_args(["--all", "--tone"]), out) == 2
    assert run_audio_doctor(parser.parse_args(["--leds", "--tone"]), out) == 2
    assert out.getvalue().count("\n") == 2 and "--tone" in out.getvalue()


# ---- the clock, the unit and its hardening from systemd's answers ------------------------


def answering(answers: dict[str, tuple[int, str]]) -> Any:
    """A machine's ``run``: the answer of the first key found in the command line."""

    def run(argv: Sequence[str], timeout_s: float) -> tuple[int, str]:
        line = " ".join(argv)
        if argv[0] == "systemd-analyze":
            return run_command(argv, timeout_s)
        return next((a for k, a in answers.items() if k in line), (1, "unknown"))

    return run


def test_the_clock_from_timedatectl_else_the_kernel(tmp_path: Path) -> None:
    synced = machine(tmp_path, systemd_booted=lambda: True, run=answering({"NTP": (0, "yes")}))
    assert check_clock(synced).status is Status.PASS
    unsynced = machine(tmp_path, systemd_booted=lambda: True, run=answering({"NTP": (0, "no")}))
    result = check_clock(unsynced)
    assert result.status is Status.FAIL and "timesync-status" in result.fix
    assert check_clock(machine(tmp_path, kernel_clock=lambda: False)).status is Status.FAIL
    unknown = check_clock(machine(tmp_path, kernel_clock=lambda: None))
    assert unknown.status is Status.SKIP and "cannot tell" in unknown.detail


def test_the_unit_state_and_what_to_do(tmp_path: Path) -> None:
    def unit(active: str, enabled: str) -> Any:
        answers = {"is-active": (0, active), "is-enabled": (0, enabled)}
        return check_unit(machine(tmp_path, systemd_booted=lambda: True, run=answering(answers)))

    assert unit("active", "enabled").status is Status.PASS
    assert unit("inactive", "enabled").status is Status.PASS  # stopped to run the doctor
    failed = unit("failed", "enabled")
    assert failed.status is Status.FAIL and "journalctl -u voice-kiosk" in failed.fix
    assert "enable --now" in unit("inactive", "disabled").fix
    assert "not installed" in unit("inactive", "not-found").detail
    assert check_unit(machine(tmp_path)).status is Status.SKIP  # no systemd here


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_shipped_unit_is_rated_within_the_target(tmp_path: Path) -> None:
    result = check_security(machine(tmp_path, unit_files=(UNIT,)))
    assert result.status is Status.PASS, result
    assert "exposure" in result.detail and "target 2.5" in result.detail
    loose = tmp_path / "voice-kiosk.service"
    loose.write_text("[Service]\nExecStart=/bin/true\n")
    result = check_security(machine(tmp_path, unit_files=(loose,)))
    assert result.status is Status.FAIL and "systemctl cat" in result.fix


def test_the_exposure_figure_is_read_and_a_missing_unit_skips(tmp_path: Path) -> None:
    assert parse_exposure("→ Overall exposure level for x.service: 1.6 OK :-)") == 1.6
    assert parse_exposure("nothing") is None
    assert check_security(machine(tmp_path)).status is Status.SKIP


def test_the_key_from_the_units_credential_file_when_run_from_a_shell(tmp_path: Path) -> None:
    store = tmp_path / "voice-kiosk.openai-api-key"
    store.write_text(KEY)
    store.chmod(0o600)
    key = find_key(Settings(), machine(tmp_path, None, credstore_key=store))
    assert key.secret.reveal() == KEY and str(store) in key.source
