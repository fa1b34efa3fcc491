"""Provisioning a five-line config into an image tree: twice gives the same tree and says
so line by line; --dry-run writes nothing; a bad config is exit 2 with the loader's lines;
the key is written 0600 and never shown. On this machine (a fake host): the commands run
once, and not again when nothing changed."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

import pytest
import yaml

from device.config.loader import load_settings
from device.prompts.making import DEFAULTS_DIR
from device.provision.apply import Applier
from device.provision.gather import ProvisionError, gather
from device.provision.plan import CONFIG, KEY_FILE, MODELS_DIR, PROMPTS_DIR, Options, plan
from tests.helpers.provision import KEY, provision, snapshot

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "espeak-ng"], capture_output=True).returncode != 0,
    reason="espeak-ng makes the site's prompts (tools/setup.sh installs it)",
)


def test_twice_into_an_image_gives_the_same_tree_and_the_second_changes_nothing(
    site: Path, image: Path
) -> None:
    first = provision(
        str(site), "--root", str(image), "--credential-file", str(site.parent / "key")
    )
    assert first.code == 0, first.err
    assert any(line.startswith("changed: /etc/voice-kiosk/config.yaml:") for line in first.lines)
    tree = snapshot(image)

    second = provision(
        str(site), "--root", str(image), "--credential-file", str(site.parent / "key")
    )
    assert second.code == 0, second.err
    steps = [line for line in second.lines if not line.startswith("voice-kiosk provision:")]
    assert steps and all(line.startswith("ok: ") for line in steps), second.out
    assert second.lines[-1].startswith("voice-kiosk provision: nothing to change")
    assert snapshot(image) == tree

    assert tree["etc/voice-kiosk/config.yaml"][:2] == ("file", 0o644)
    assert tree["etc/credstore"][:2] == ("dir", 0o700)
    assert tree["etc/credstore/voice-kiosk.openai-api-key"] == ("file", 0o600, KEY.encode())
    assert tree["etc/systemd/system/multi-user.target.wants/voice-kiosk.service"] == (
        "link",
        0o777,
        b"/etc/systemd/system/voice-kiosk.service",
    )
    assert tree["etc/voice-kiosk/prompts/offline.wav"][0] == "file"
    assert "front desk in hall B" in tree["etc/voice-kiosk/prompts/prompts.yaml"][2].decode()


def test_the_installed_config_plays_the_prompts_made_in_the_sites_words(
    site: Path, image: Path
) -> None:
    assert (
        provision(str(site), "--root", str(image), "--credential-stdin", stdin=KEY.encode()).code
        == 0
    )
    installed = image / "etc/voice-kiosk/config.yaml"
    lines = installed.read_text().splitlines(keepends=True)
    added = [line for line in lines if "added by voice-kiosk provision" in line]
    assert added == [
        f"  prompts_dir: {PROMPTS_DIR}  # added by voice-kiosk provision: the site's prompts\n"
    ]
    assert "".join(line for line in lines if line not in added) == site.read_text()
    settings = load_settings(installed)
    assert settings.conversation.prompts_dir == Path(PROMPTS_DIR)
    assert settings.device.name == "kiosk-7"


def test_a_changed_mode_or_file_is_put_back_and_named(site: Path, image: Path) -> None:
    key = str(site.parent / "key")
    assert provision(str(site), "--root", str(image), "--credential-file", key).code == 0
    (image / "etc/voice-kiosk/config.yaml").chmod(0o666)
    (image / "etc/udev/rules.d/60-voice-kiosk.rules").write_text("# edited\n")
    again = provision(str(site), "--root", str(image), "--credential-file", key)
    changed = [line for line in again.lines if line.startswith("changed:")]
    assert changed == [
        "changed: /etc/voice-kiosk/config.yaml: the config: mode 0666 -> 0644",
        "changed: /etc/udev/rules.d/60-voice-kiosk.rules: the LED ring's udev rule: replaced",
    ]
    assert again.lines[-1] == f"voice-kiosk provision: 2 changed, {len(again.lines) - 4} ok"


def test_dry_run_writes_nothing_and_says_what_it_would_do(site: Path, image: Path) -> None:
    ran = provision(
        str(site), "--root", str(image), "--dry-run", "--credential-stdin", stdin=KEY.encode()
    )
    assert ran.code == 0, ran.err
    assert os.listdir(image) == []
    assert (
        "would change: /etc/voice-kiosk/config.yaml: the config: written (0644, owner root)"
        in ran.lines
    )
    assert not [line for line in ran.lines if line.startswith("changed:")]
    assert ran.lines[-1].startswith("voice-kiosk provision: ") and "would change" in ran.lines[-1]


def test_a_bad_config_is_exit_2_with_the_loaders_one_line_problems(
    tmp_path: Path, image: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("conversation:\n  idle_timeout_s: -3\n  max_duration_s: 5\n")
    ran = provision(str(bad), "--root", str(image), "--credential-stdin", stdin=KEY.encode())
    assert ran.code == 2
    checked = subprocess.run(
        [sys.executable, "-m", "device", "check-config", str(bad)], capture_output=True, text=True
    )
    assert checked.returncode == 2
    assert ran.err.splitlines() == checked.stderr.splitlines()
    assert len(ran.err.splitlines()) == 2 and ran.out == ""
    assert os.listdir(image) == []


def test_a_relative_path_is_refused_as_it_would_mean_another_file(site: Path, image: Path) -> None:
    site.write_text(site.read_text() + "tools:\n  audit_log: logs/audit.jsonl\n")
    ran = provision(str(site), "--root", str(image), "--credential-stdin", stdin=KEY.encode())
    assert ran.code == 2
    assert ran.err.splitlines() == [
        f"{site}: tools.audit_log: a relative path; installed as {CONFIG} it would mean "
        "/etc/voice-kiosk/logs/audit.jsonl: give the absolute path"
    ]


@pytest.mark.slow
def test_the_key_is_never_shown(site: Path, image: Path) -> None:
    """Not on a run, a second run, a dry run, nor when the key is refused; only in its
    0600 file. The command runs as Ansible runs it: the installed script, key on stdin."""
    command = [sys.executable, "-m", "device", "provision", str(site), "--root", str(image)]
    outputs = []
    for extra, key in (([], KEY), ([], KEY), (["--dry-run"], KEY + "x"), ([], KEY + " x")):
        done = subprocess.run(
            [*command, *extra, "--credential-stdin"], input=key, capture_output=True, text=True
        )
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == (2 if " " in key else 0), done.stderr
    assert "would change: /etc/credstore/voice-kiosk.openai-api-key" in outputs[2]
    for output in outputs:
        assert KEY not in output and KEY[-12:] not in output
    holding = [p for p, (_, _, data) in snapshot(image).items() if KEY.encode() in data]
    assert holding == ["etc/credstore/voice-kiosk.openai-api-key"]


def test_no_key_given_and_none_there_fails_naming_the_options(site: Path, image: Path) -> None:
    ran = provision(str(site), "--root", str(image))
    assert ran.code == 1
    assert (
        "failed: /etc/credstore/voice-kiosk.openai-api-key: the API key is missing: give it "
        "with --credential-file F or --credential-stdin"
    ) in ran.lines
    assert (
        provision(str(site), "--root", str(image), "--credential-stdin", stdin=KEY.encode()).code
        == 0
    )
    kept = provision(str(site), "--root", str(image))
    assert kept.code == 0
    assert f"ok: {KEY_FILE}: the API key, kept as it is" in kept.lines


def test_the_wake_models_go_where_the_daemon_looks(site: Path, image: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("melspectrogram.onnx", "embedding_model.onnx", "hey_jarvis_v0.1.onnx", "x.onnx"):
        (models / name).write_bytes(name.encode())
    site.write_text(site.read_text() + "wake:\n  enabled: true\n")
    made = gather(site, root=image, credential=KEY.encode(), models_from=models)
    assert sorted(made.models) == [
        MODELS_DIR / "embedding_model.onnx",
        MODELS_DIR / "hey_jarvis_v0.1.onnx",
        MODELS_DIR / "melspectrogram.onnx",
    ]
    steps = plan(made, Options(image=True))
    for _ in range(2):
        out = io.StringIO()
        result = Applier(image, dry_run=False, out=out).apply(steps)
        assert not result.failed, out.getvalue()
    assert result.changed == 0
    assert (image / "opt/voice-kiosk/venv/share/voice-kiosk/models/hey_jarvis_v0.1.onnx").is_file()


def test_a_model_missing_everywhere_fails_saying_how_to_fetch_it(
    site: Path, image: Path, tmp_path: Path
) -> None:
    site.write_text(site.read_text() + "wake:\n  enabled: true\n")
    made = gather(site, root=image, credential=KEY.encode(), models_from=tmp_path)
    out = io.StringIO()
    assert Applier(image, dry_run=False, out=out).apply(plan(made, Options(image=True))).failed
    assert "a wake model is missing: not in" in out.getvalue()
    assert "tools/fetch_models.py" in out.getvalue()


def test_not_root_the_owner_is_named_and_not_set(site: Path, image: Path) -> None:
    made = gather(site, root=image, credential=KEY.encode())
    out = io.StringIO()
    result = Applier(image, dry_run=False, out=out, can_chown=False).apply(
        plan(made, Options(image=True))
    )
    assert not result.failed
    assert "(0600, owner root not set (not running as root))" in out.getvalue()


def test_an_unreadable_key_file_is_exit_2_naming_the_file(site: Path, image: Path) -> None:
    ran = provision(str(site), "--root", str(image), "--credential-file", str(site.parent / "nope"))
    assert ran.code == 2
    assert ran.err.startswith(f"{site.parent / 'nope'}: cannot read:")


class FakeHost:
    """This machine as the commands see it: a user, enabled and running units."""

    def __init__(self, doctor_exit: int = 0) -> None:
        self.ran: list[str] = []
        self.enabled: set[str] = set()
        self.active: set[str] = set()
        self.user = False
        self.doctor_exit = doctor_exit

    def run(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[int, str]:
        words = list(argv)
        if words[:2] == ["systemctl", "is-enabled"]:
            return (0 if words[-1] in self.enabled else 1), ""
        if words[:2] == ["systemctl", "is-active"]:
            return (0 if words[-1] in self.active else 3), ""
        self.ran.append(" ".join(words[3:] if words[1:3] == ["-m", "device"] else words))
        match words:
            case ["systemd-sysusers", *_]:
                self.user = True
            case ["systemctl", "enable", unit]:
                self.enabled.add(unit)
            case ["systemctl", "start", unit]:
                self.active.add(unit)
            case [_, "-m", "device", "doctor", *_]:
                return self.doctor_exit, '{"devices": [], "error": "no sound card", "ok": false}'
        return 0, ""

    def in_groups(self, user: str, groups: tuple[str, ...]) -> bool:
        return self.user


def test_live_commands_run_once_then_not_again(site: Path, image: Path) -> None:
    """The live plan on a tree in tmp, its commands on a fake host: the files, then the
    user, the reloads, enable, the checks, the start; the second time only check-config."""
    made = gather(site, root=image, credential=KEY.encode())
    steps = plan(made, Options(image=False, python="py"))
    host = FakeHost()
    out = io.StringIO()
    assert not Applier(image, dry_run=False, out=out, host=host).apply(steps).failed
    assert host.ran == [
        "systemd-sysusers /etc/sysusers.d/voice-kiosk.conf",
        "udevadm control --reload",
        "udevadm trigger --subsystem-match=usb",
        "systemctl daemon-reload",
        "systemctl enable voice-kiosk.service",
        "check-config /etc/voice-kiosk/config.yaml",
        "doctor --config /etc/voice-kiosk/config.yaml --json",
        "systemctl try-restart voice-kiosk.service",
        "systemctl start voice-kiosk.service",
    ]
    host.ran.clear()
    out = io.StringIO()
    result = Applier(image, dry_run=False, out=out, host=host).apply(steps)
    assert (result.changed, result.failed) == (0, False)
    assert host.ran == ["check-config /etc/voice-kiosk/config.yaml"]  # a check changes nothing
    assert "ok: doctor: not run: the daemon is running and holds the sound card" in out.getvalue()


def test_live_a_failing_doctor_is_exit_1_and_nothing_starts(site: Path, image: Path) -> None:
    made = gather(site, root=image, credential=KEY.encode())
    host = FakeHost(doctor_exit=1)
    out = io.StringIO()
    result = Applier(image, dry_run=False, out=out, host=host).apply(
        plan(made, Options(image=False, python="py"))
    )
    assert result.failed
    assert out.getvalue().splitlines()[-1] == "failed: doctor: exit 1: no sound card"
    assert "systemctl start voice-kiosk.service" not in host.ran


def test_live_dry_run_asks_but_changes_nothing(site: Path, image: Path) -> None:
    made = gather(site, root=image, credential=KEY.encode())
    host = FakeHost()
    out = io.StringIO()
    Applier(image, dry_run=True, out=out, host=host).apply(plan(made, Options(image=False)))
    assert host.ran == [] and os.listdir(image) == []
    assert (
        "would change: voice-kiosk.service enabled: would run systemctl enable "
        "voice-kiosk.service" in out.getvalue()
    )


def test_gather_refuses_a_message_too_long_to_wait_for(site: Path, image: Path) -> None:
    site.write_text(site.read_text().replace("The network", "The network " + "very " * 50))
    with pytest.raises(ProvisionError) as caught:
        gather(site, root=image, credential=None)
    assert caught.value.code == 2
    assert "conversation.offline_message: " in caught.value.problems[0]
    assert PurePosixPath("/") != PurePosixPath(str(image))


def test_the_disclosure_is_spoken_in_the_sites_words(site: Path, image: Path) -> None:
    site.write_text(
        site.read_text() + "  disclosure: Hello, you are speaking with the hall B robot.\n"
    )
    ran = provision(str(site), "--root", str(image), "--credential-stdin", stdin=KEY.encode())
    assert ran.code == 0, ran.out + ran.err
    folder = image / "etc/voice-kiosk/prompts"
    texts = yaml.safe_load((folder / "prompts.yaml").read_text())
    assert texts["disclosure"] == "Hello, you are speaking with the hall B robot."
    packaged = (DEFAULTS_DIR / "disclosure.wav").read_bytes()
    made = (folder / "disclosure.wav").read_bytes()
    assert made != packaged and len(made) > 24_000  # the site's words, spoken
    assert (folder / "consent.wav").read_bytes() == (DEFAULTS_DIR / "consent.wav").read_bytes()
