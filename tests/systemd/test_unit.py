"""The unit files: systemd-analyze verify is clean, the exposure meets its target, and the
unit agrees with the code (credential name, exit codes, close deadline, health limits).

verify refuses a unit whose ExecStart= program does not exist (/opt/voice-kiosk is made
by install.sh on the device): it runs on a temp copy with only that program swapped for
a stub (tools/bench_systemd.verifiable_copy).
"""

from __future__ import annotations

import configparser
import importlib
import shutil
from pathlib import Path

import pytest

from device.config.secrets import API_KEY_CREDENTIAL
from device.services.ports import CLOSE_DEADLINE_S, LOOP_STALE_MS, MIC_STALE_MS
from tools import bench_systemd

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze missing (tools/setup.sh)"
)
UNITS = [bench_systemd.MAIN_UNIT, bench_systemd.AUDIO_UNIT]


def _service(unit: Path) -> dict[str, list[str]]:
    """The [Service] section: key -> every value given (in order)."""
    out: dict[str, list[str]] = {}
    section = None
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def _exit_config() -> int:
    """The CLI's exit status for a bad config (device/cli/serve.py; main.py before it)."""
    for module in ("device.cli.serve", "device.cli.main"):
        try:
            return int(importlib.import_module(module).EXIT_CONFIG)
        except (ImportError, AttributeError):
            continue
    raise AssertionError("no EXIT_CONFIG in device/cli")


def _seconds(value: str) -> float:
    units = {"min": 60.0, "ms": 1e-3, "s": 1.0}
    for suffix, scale in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * scale
    return float(value)


@needs_analyze
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_verify_passes_with_empty_stderr(unit: Path, tmp_path: Path) -> None:
    copy, swapped = bench_systemd.verifiable_copy(unit, tmp_path)
    before = [ln for ln in unit.read_text().splitlines()]
    after = [ln for ln in copy.read_text().splitlines()]
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == len(swapped)  # only the missing programs differ
    done = bench_systemd.verify(unit)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == ""


@needs_analyze
def test_security_exposure_meets_the_target() -> None:
    result = bench_systemd.run()
    print(f"security_exposure {result['security_exposure']}")
    assert result["security_exposure"] <= bench_systemd.EXPOSURE_TARGET
    assert result["verify_ok"]


def test_the_unit_agrees_with_the_code() -> None:
    service = _service(bench_systemd.MAIN_UNIT)
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert service["Restart"] == ["on-failure"]
    exec_start = service["ExecStart"][0].split()
    assert exec_start[1:] == ["run", "--config", "/etc/voice-kiosk/config.yaml"]
    # the credential device/config/secrets.py looks for
    (credential,) = service["LoadCredential"]
    assert credential.split(":")[0] == API_KEY_CREDENTIAL
    # a config error is not retried
    assert service["RestartPreventExitStatus"] == [str(_exit_config())]
    # the daemon's own close fits the stop timeout
    assert _seconds(service["TimeoutStopSec"][0]) >= 3 * CLOSE_DEADLINE_S
    # pings every WatchdogSec/2; a stale mic or loop is seen well within one interval
    watchdog_s = _seconds(service["WatchdogSec"][0])
    assert max(MIC_STALE_MS, LOOP_STALE_MS) / 1000 < watchdog_s / 2
    assert service["User"] == ["voice-kiosk"]
    assert set(service["SupplementaryGroups"][0].split()) == {"audio", "gpio", "spi", "plugdev"}
    assert service["DevicePolicy"] == ["closed"]
    assert service["MemoryDenyWriteExecute"] == ["yes"]  # tests/systemd/test_mdwe.py
    assert service["UMask"] == ["0077"]


def test_sysusers_and_udev_name_the_same_user_and_groups() -> None:
    folder = bench_systemd.UNITS
    sysusers = (folder / "voice-kiosk.sysusers").read_text().splitlines()
    members = {ln.split()[2] for ln in sysusers if ln.startswith("m ")}
    assert members == {"audio", "gpio", "spi", "plugdev"}
    rules = (folder / "60-voice-kiosk.rules").read_text()
    assert 'ATTR{idVendor}=="2886"' in rules and 'GROUP="plugdev"' in rules


def test_the_audio_unit_serves_the_socket_the_daemon_uses() -> None:
    main = _service(bench_systemd.MAIN_UNIT)
    audio = _service(bench_systemd.AUDIO_UNIT)
    server = next(v for v in main["Environment"] if v.startswith("PULSE_SERVER="))
    socket_path = server.removeprefix("PULSE_SERVER=unix:")
    assert socket_path.startswith(f"/run/{audio['RuntimeDirectory'][0]}/")
    script = (bench_systemd.UNITS / "voice-kiosk-audio.pa").read_text()
    assert f"socket={socket_path}" in script
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(bench_systemd.AUDIO_UNIT.read_text())
    assert parser["Install"]["WantedBy"] == "voice-kiosk.service"
