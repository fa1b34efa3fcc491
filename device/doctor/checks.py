"""The checkup's checks that are not audio: each a small function returning a `CheckResult`.

Each says in an installer's words what it found and, when it fails, what to do; none
raises (the checkup turns a surprise into a FAIL too) and none prints the API key. The
audio checks are in device/doctor/audio.py, the order and the deadlines in checkup.py.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.common.text import one_line
from device.config.secrets import CredentialError, Secret, api_key_source, find_api_key
from device.config.settings import Settings
from device.doctor.machine import EXPOSURE_TARGET, Machine, parse_exposure
from device.doctor.result import CheckResult, failed, passed, skipped

MIN_FREE_MB = 200
SESSION_WAIT_S = 5.0
KEY_FIX = (
    "give the key as the systemd credential openai-api-key (docs/operating.md, 'The API key'),"
    " $OPENAI_API_KEY, or realtime.api_key_file (mode 0600)"
)
SANE_EPOCH_S = 1_735_689_600  # 2025-01-01: a clock before it was never set


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return one_line(text.splitlines()[0] if text else type(exc).__name__)


# ---- the key -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """The API key found (never shown) and where it came from, in words."""

    secret: Secret
    source: str


def find_key(settings: Settings, machine: Machine) -> Key:
    """As the daemon finds it; from a shell also the unit's credential file (as root)."""
    rt = settings.realtime
    try:
        return Key(
            find_api_key(rt.api_key_file, machine.env), api_key_source(rt.api_key_file, machine.env)
        )
    except CredentialError as exc:
        store = machine.credstore_key
        if (
            rt.api_key_file is not None
            or not str(exc).startswith("no API key")
            or not store.exists()
        ):
            raise
    return Key(find_api_key(store, {}), f"the unit's credential file {store}")


def check_credential(settings: Settings, machine: Machine) -> tuple[CheckResult, Key | None]:
    name = "credential"
    try:
        key = find_key(settings, machine)
    except CredentialError as exc:
        fix = KEY_FIX
        if "Permission denied" in str(exc):
            fix = "run the doctor as root (sudo), as systemd reads the key for the daemon"
        elif "chmod" in str(exc):
            fix = str(exc).rsplit("run: ", 1)[-1]
        return failed(name, str(exc), fix), None
    return passed(name, f"the API key is there (from {key.source}; not shown)"), key


# ---- the Realtime endpoint ----------------------------------------------------------------


async def _one_session(settings: Settings, key: Key, timeout_s: float) -> CheckResult:
    from device.realtime.events import ServerError, SessionCreated
    from device.realtime.link import LinkError, RealtimeLink, _display

    name = "realtime"
    rt = settings.realtime
    where = _display(rt.url)
    started = time.monotonic()
    try:
        link = await RealtimeLink.connect(
            rt.url, rt.model, key.secret, timeout_s=timeout_s, ping_interval_s=None
        )
    except LinkError as exc:
        return _refused(exc, where, key, rt.model)
    try:
        first: Any = None
        async with asyncio.timeout(SESSION_WAIT_S):
            async for event in link.events():
                if isinstance(event, SessionCreated | ServerError):
                    first = event
                    break
    except TimeoutError:
        first = None
    except LinkError as exc:
        return failed(name, f"{where}: {exc}", "try again; if it persists, check realtime.url")
    finally:
        await link.close()
    ms = (time.monotonic() - started) * 1000
    if isinstance(first, SessionCreated):
        return passed(
            name, f"{where} opened a session for {rt.model} in {ms:.0f} ms (closed at once)"
        )
    if first is None:
        return failed(
            name,
            f"{where} took the connection but sent no session.created within {SESSION_WAIT_S:g} s",
            "the service may be slow or down: try again later; check realtime.url",
        )
    return failed(
        name,
        f"{where} answered with an error: {first.code}: {one_line(first.message, 120)}",
        "check realtime.model and the key's project access",
    )


def _refused(exc: Any, where: str, key: Key, model: str) -> CheckResult:
    name = "realtime"
    status = getattr(exc, "status", None)
    if status == 401:
        return failed(
            name,
            f"{where} refused the API key (HTTP 401)",
            f"the key from {key.source} is wrong or revoked: put a valid one there",
        )
    if status == 403:
        return failed(
            name,
            f"{where} refused access (HTTP 403) to {model}",
            "check realtime.model and that the key's project may use it",
        )
    if status is not None:
        return failed(
            name, f"{where} answered HTTP {status}", "the service is busy or down: try again later"
        )
    text = str(exc)
    if getattr(exc, "network", False):
        fix = "check the network, DNS, any firewall or proxy on the way (port 443), realtime.url"
        if "certificate" in text.lower():
            fix = "the TLS certificate was refused: is the clock right (see clock)? a TLS proxy?"
        return failed(name, text, fix)
    if "no handshake answer" in text:
        return failed(
            name,
            text,
            "something between here and the server holds connections: a proxy or firewall?",
        )
    if "certificate" in text.lower():
        return failed(
            name, text, "the TLS certificate was refused: is the clock right (see clock)?"
        )
    return failed(name, text, "check realtime.url")


def check_realtime(settings: Settings, key: Key | None, timeout_s: float = 8.0) -> CheckResult:
    """One session against ``realtime.url`` with the key: session.created, then closed."""
    if key is None:
        return skipped("realtime", "no API key to try (see credential)")
    return asyncio.run(_one_session(settings, key, timeout_s))


# ---- wake word, button, LEDs --------------------------------------------------------------


def check_wake(settings: Settings) -> CheckResult:
    name = "wake_word"
    wake = settings.wake
    if not wake.enabled:
        return skipped(name, "the wake word is off (wake.enabled: false)")
    from device.wake.oww import detector_from_settings

    started = time.monotonic()
    try:
        detector = detector_from_settings(wake)
        import numpy as np

        detector.process(np.zeros(2560, dtype=np.int16))
    except Exception as exc:
        return failed(
            name,
            _first_line(exc),
            "check wake.models (name or path) and wake.models_dir (docs/wake-word.md)",
        )
    names = ", ".join(detector.model_names)
    return passed(name, f"{names} loaded and ran in {time.monotonic() - started:.1f} s")


def check_button(settings: Settings, daemon_running: bool, pin_factory: Any = None) -> CheckResult:
    name = "button"
    button = settings.button
    if not button.enabled:
        return skipped(name, "no push-to-talk button (button.enabled: false)")
    if daemon_running:
        return skipped(name, f"GPIO{button.pin}: voice-kiosk is running and holds it")
    from device.buttons.gpio import ButtonUnavailable, GpioButton

    try:
        gpio = GpioButton(button, lambda _e, _t: None, pin_factory=pin_factory)
    except ButtonUnavailable as exc:
        return failed(
            name,
            str(exc),
            "check button.pin and the wiring; on a Pi 5 install lgpio in the venv; is another"
            " program using the pin?",
        )
    try:
        pressed = gpio.is_pressed
    finally:
        gpio.close()
    if pressed:
        return failed(
            name,
            f"GPIO{button.pin} reads pressed with nobody on it",
            "check button.pull_up against the wiring (a stuck or miswired button)",
        )
    return passed(name, f"GPIO{button.pin} opened, not pressed")


def check_leds(settings: Settings, daemon_running: bool, pin_factory: Any = None) -> CheckResult:
    name = "leds"
    leds = settings.leds
    if leds.driver == "none":
        return skipped(name, "no status LEDs (leds.driver: none)")
    if daemon_running and leds.driver != "terminal":
        return skipped(name, f"{leds.driver}: voice-kiosk is running and holds it")
    import io

    from device.leds.factory import make_driver

    fixes = {
        "apa102": "enable SPI (raspi-config nonint do_spi 0) and check leds.spi_bus/spi_device",
        "usb_ring": "plug the ReSpeaker ring in; udev rule 60-voice-kiosk.rules, group plugdev",
    }
    try:
        driver = make_driver(leds, pin_factory=pin_factory, out=io.StringIO())
        assert driver is not None
        driver.open()
        driver.close()
    except Exception as exc:
        fix = fixes.get(leds.driver, "check the leds pins and the wiring; on a Pi 5 install lgpio")
        return failed(name, f"{leds.driver}: {_first_line(exc)}", fix)
    return passed(name, f"{driver.label} opened (voice-kiosk doctor --leds shows every pattern)")


# ---- the machine ---------------------------------------------------------------------------


def _written_folders(settings: Settings, machine: Machine) -> list[Path]:
    folders = list(machine.data_dirs)
    if settings.tools.audit_log is not None:
        folders.append(settings.tools.audit_log.parent)
    out_path = getattr(settings.audio.output, "path", None)
    if isinstance(out_path, Path):
        folders.append(out_path.parent)
    return [f for f in dict.fromkeys(folders) if f.is_dir()]


def check_disk(settings: Settings, machine: Machine) -> CheckResult:
    name = "disk"
    folders = _written_folders(settings, machine)
    if not folders:
        where = " and ".join(str(d) for d in machine.data_dirs)
        return skipped(
            name, f"none of the daemon's folders is here yet ({where}: the unit makes them)"
        )
    free = {f: shutil.disk_usage(f).free // 2**20 for f in folders}
    low = [f for f, mb in free.items() if mb < MIN_FREE_MB]
    shown = "; ".join(f"{f}: {mb / 1024:.1f} GB free" for f, mb in free.items())
    if low:
        return failed(
            name,
            f"{low[0]}: {free[low[0]]} MB free (needs {MIN_FREE_MB} MB)",
            "free space: journalctl --vacuum-size=100M; old files under /var/log/voice-kiosk",
        )
    return passed(name, shown)


def check_clock(machine: Machine) -> CheckResult:
    """Synchronised (TLS certificates and the session's expiry need the right time)."""
    name = "clock"
    now = time.time()
    if now < SANE_EPOCH_S:
        return failed(
            name,
            f"the clock says {time.strftime('%Y-%m-%d', time.gmtime(now))}: never set",
            "connect the network so NTP can set it (timedatectl timesync-status)",
        )
    fix = (
        "check the network and NTP: timedatectl timesync-status; systemctl status systemd-timesyncd"
    )
    if machine.systemd_booted():
        code, text = machine.run(("timedatectl", "show", "-p", "NTPSynchronized", "--value"), 3.0)
        if code == 0 and text.strip() in ("yes", "no"):
            if text.strip() == "yes":
                return passed(name, "synchronised (timedatectl)")
            return failed(name, "not synchronised (timedatectl: NTPSynchronized=no)", fix)
    synced = machine.kernel_clock()
    if synced is None:
        return skipped(name, "cannot tell: no timedatectl answer and the kernel cannot be asked")
    if synced:
        return passed(name, "synchronised (the kernel's clock status)")
    return failed(name, "not synchronised (the kernel's clock status says so)", fix)


def check_unit(machine: Machine) -> CheckResult:
    name = "unit"
    state = machine.unit_state()
    if state is None:
        return skipped(name, "systemd does not run this machine (a container or a laptop?)")
    _, enabled = machine.run(("systemctl", "is-enabled", machine.unit), 3.0)
    enabled = enabled.splitlines()[0].strip() if enabled else "unknown"
    install = "install it: docs/operating.md, 'Installing the unit' (or voice-kiosk provision)"
    if enabled in ("not-found", "unknown") or "No such file" in enabled or "not found" in enabled:
        return failed(name, f"{machine.unit} is not installed", install)
    if state == "failed":
        return failed(
            name,
            f"{machine.unit} failed ({enabled})",
            f"journalctl -u {machine.unit} -n 30 says why; then systemctl reset-failed"
            f" {machine.unit} && systemctl start {machine.unit}",
        )
    if enabled not in ("enabled", "enabled-runtime", "static", "alias", "linked"):
        return failed(
            name,
            f"{machine.unit} is {state} and {enabled}: it will not start at boot",
            f"systemctl enable --now {machine.unit}",
        )
    if state == "active":
        return passed(name, f"{machine.unit} is active and {enabled}")
    return passed(
        name, f"{machine.unit} is {enabled}, {state} now (systemctl start {machine.unit})"
    )


def check_security(machine: Machine, timeout_s: float = 20.0) -> CheckResult:
    """``systemd-analyze security --offline=true`` of the installed unit: target 2.5 or less."""
    name = "security"
    unit = machine.installed_unit()
    if unit is None:
        return skipped(name, f"{machine.unit} is not installed here (nothing to rate)")
    code, text = machine.run(
        ("systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)), timeout_s
    )
    if code == 127:
        return skipped(name, "systemd-analyze is not installed (apt-get install systemd)")
    exposure = parse_exposure(text)
    if exposure is None:
        last = text.strip().splitlines()[-1] if text.strip() else f"exit {code}"
        return skipped(name, f"systemd-analyze gave no figure for {unit}: {last}")
    if exposure > EXPOSURE_TARGET:
        return failed(
            name,
            f"{unit}: exposure {exposure} (target {EXPOSURE_TARGET} or less)",
            f"the unit's hardening was loosened: compare it with the shipped one;"
            f" systemctl cat {machine.unit} shows drop-ins",
        )
    return passed(name, f"{unit}: exposure {exposure} (target {EXPOSURE_TARGET} or less)")
