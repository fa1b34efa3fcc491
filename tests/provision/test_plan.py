"""The plan (pure): which steps a site gets, live and into an image tree; the installed
config's one added key; the packaged unit files are systemd/'s."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import pytest
import yaml

from device.provision.gather import UNITS
from device.provision.installed import InstallError, installed_text
from device.provision.plan import (
    CONFIG,
    KEY_FILE,
    PROMPTS_DIR,
    UNIT_FILES,
    Check,
    Command,
    InGroups,
    KeepFile,
    Options,
    Run,
    Site,
    Symlink,
    WriteFile,
    groups_of,
    plan,
)

ROOT = Path(__file__).resolve().parents[2]
UNITS_TEXT = {name: (UNITS / name).read_bytes() for name in UNIT_FILES}


def a_site(**changes: object) -> Site:
    fields: dict[str, object] = {
        "config": b"device: {name: a}\n",
        "echo_mode": "reference",
        "units": UNITS_TEXT,
        "prompts": {"offline.wav": b"RIFF", "prompts.yaml": b"offline: hi\n"},
        "credential": b"sk-key",
    }
    fields.update(changes)
    return Site(**fields)  # type: ignore[arg-type]


def written(steps: Sequence[object]) -> dict[str, WriteFile]:
    return {str(s.path): s for s in steps if isinstance(s, WriteFile)}


def test_the_packaged_unit_files_are_the_ones_in_systemd() -> None:
    sources = {
        "voice-kiosk.service": "voice-kiosk.service",
        "voice-kiosk-audio.service": "voice-kiosk-audio.service",
        "voice-kiosk-audio.pa": "voice-kiosk-audio.pa",
        "voice-kiosk.sysusers": "voice-kiosk.sysusers",
        "60-voice-kiosk.rules": "60-voice-kiosk.rules",
    }
    stale = [
        name
        for name, source in sources.items()
        if (ROOT / "systemd" / source).read_bytes() != UNITS_TEXT[name]
    ]
    assert stale == [], f"copy them: cp systemd/FILE device/provision/units/ ({stale})"


def test_the_unit_loads_the_key_provisioning_writes() -> None:
    unit = UNITS_TEXT["voice-kiosk.service"].decode()
    assert f"LoadCredential=openai-api-key:{KEY_FILE}\n" in unit
    assert f"--config {CONFIG}\n" in unit


def test_an_image_gets_files_and_links_and_runs_nothing() -> None:
    steps = plan(a_site(), Options(image=True))
    files = written(steps)
    assert files[str(CONFIG)].mode == 0o644
    key = files[str(KEY_FILE)]
    assert (key.mode, key.owner, key.secret) == (0o600, "root", True)
    assert "sk-key" not in repr(key)
    assert str(PROMPTS_DIR / "offline.wav") in files
    assert "/etc/systemd/system/voice-kiosk.service" in files
    assert "/etc/sysusers.d/voice-kiosk.conf" in files
    assert "/etc/udev/rules.d/60-voice-kiosk.rules" in files
    assert "/etc/systemd/system/voice-kiosk-audio.service" not in files
    links = [s for s in steps if isinstance(s, Symlink)]
    assert [(str(s.path), s.target) for s in links] == [
        (
            "/etc/systemd/system/multi-user.target.wants/voice-kiosk.service",
            "/etc/systemd/system/voice-kiosk.service",
        )
    ]
    assert not [s for s in steps if isinstance(s, Run | Check)]


def test_software_echo_mode_adds_the_sound_server_enabled_with_the_daemon() -> None:
    steps = plan(a_site(echo_mode="software"), Options(image=True))
    files = written(steps)
    assert "/etc/systemd/system/voice-kiosk-audio.service" in files
    assert "/etc/voice-kiosk/audio.pa" in files
    links = {str(s.path): s.target for s in steps if isinstance(s, Symlink)}
    wants = "/etc/systemd/system/voice-kiosk.service.wants/voice-kiosk-audio.service"
    assert links[wants] == "/etc/systemd/system/voice-kiosk-audio.service"


def test_live_it_makes_the_user_enables_checks_then_starts() -> None:
    steps = plan(a_site(), Options(image=False, python="/venv/bin/python"))
    runs = [s for s in steps if isinstance(s, Run | Check)]
    names = [s.what for s in runs]
    assert names == [
        "user voice-kiosk and its groups",
        "udev rules reloaded",
        "systemd reloaded",
        "voice-kiosk.service enabled",
        "check-config",
        "doctor",
        "voice-kiosk.service restarted (its files changed)",
        "voice-kiosk.service running",
    ]
    user = runs[0]
    assert isinstance(user, Run)
    assert user.unless == InGroups("voice-kiosk", ("audio", "gpio", "spi", "plugdev"))
    doctor = runs[5]
    assert isinstance(doctor, Check)
    assert doctor.argv == (
        "/venv/bin/python",
        "-m",
        "device",
        "doctor",
        "--config",
        str(CONFIG),
        "--json",
    )
    assert doctor.unless == Command(("systemctl", "is-active", "--quiet", "voice-kiosk.service"))
    restart = runs[6]
    assert isinstance(restart, Run)
    assert CONFIG in restart.when_changed and KEY_FILE in restart.when_changed
    assert not [s for s in steps if isinstance(s, Symlink)]


def test_without_a_key_the_one_there_must_be_kept() -> None:
    steps = plan(a_site(credential=None), Options(image=True))
    assert (
        KeepFile(KEY_FILE, "the API key", "give it with --credential-file F or --credential-stdin")
        in steps
    )
    assert str(KEY_FILE) not in written(steps)


def test_a_sites_own_prompts_folder_is_left_alone() -> None:
    steps = plan(a_site(prompts=None, prompts_dir=PurePosixPath("/srv/p")), Options(image=True))
    assert not [p for p in written(steps) if p.startswith("/srv/p")]


def test_groups_come_from_the_sysusers_file() -> None:
    assert groups_of(
        b"u voice-kiosk - x\nm voice-kiosk audio\nm other spi\nm voice-kiosk gpio\n"
    ) == (
        "audio",
        "gpio",
    )


# -- the installed config ----------------------------------------------------------------------


def _loaded(text: str) -> dict[str, object]:
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def test_the_key_is_added_to_the_conversation_section_keeping_the_rest() -> None:
    source = "# my kiosk\ndevice:\n  name: a\nconversation:\n  # when\n  start: at_startup\n"
    text = installed_text(source, PROMPTS_DIR)
    assert text.startswith("# my kiosk\ndevice:\n  name: a\nconversation:\n  # when\n")
    assert _loaded(text)["conversation"] == {
        "prompts_dir": str(PROMPTS_DIR),
        "start": "at_startup",
    }
    assert text.replace(text.splitlines(keepends=True)[5], "") == source


@pytest.mark.parametrize("source", ["device:\n  name: a", "", "# nothing yet\n"])
def test_a_file_without_the_section_gets_one_at_its_end(source: str) -> None:
    text = installed_text(source, PROMPTS_DIR)
    assert text.startswith(source)
    assert _loaded(text)["conversation"] == {"prompts_dir": str(PROMPTS_DIR)}


@pytest.mark.parametrize(
    "source",
    [
        "conversation: {start: at_startup}\n",
        "{conversation: {start: at_startup}}\n",
        "conversation:\n",
        "conversation:\n  prompts_dir: null\n",
    ],
)
def test_layouts_it_cannot_edit_are_refused_with_what_to_do(source: str) -> None:
    with pytest.raises(InstallError, match="prompts_dir"):
        installed_text(source, PROMPTS_DIR)
