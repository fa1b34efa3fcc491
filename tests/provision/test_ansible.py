"""The example playbook (examples/ansible/site.yml) run by ansible-core against this
machine into an image tree, twice: the first run changes it, the second reports changed=0,
and the key (an extra var, as the vault would give it) is never in Ansible's output."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.provision import FIVE_LINES, KEY, snapshot

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "examples" / "ansible" / "site.yml"
BIN = Path(sys.executable).parent
RECAP = re.compile(
    r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M
)


def play(extra: Path, home: Path) -> tuple[int, str, tuple[int, ...]]:
    env = {
        **os.environ,
        "HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_CONFIG": str(home / "ansible.cfg"),
    }
    (home / "ansible.cfg").write_text("[defaults]\n")
    done = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"@{extra}",
            str(PLAYBOOK),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=300,
    )
    output = done.stdout + done.stderr
    found = RECAP.search(output)
    assert found, output
    return done.returncode, output, tuple(int(n) for n in found.groups())


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng makes the prompts")
@pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-core (test extra)")
def test_the_playbook_provisions_an_image_then_changes_nothing(tmp_path: Path) -> None:
    import yaml

    image = tmp_path / "image"
    image.mkdir()
    extra = tmp_path / "vars.json"
    extra.write_text(
        json.dumps(
            {
                "voice_kiosk_hosts": "localhost",
                "voice_kiosk_become": False,
                "ansible_python_interpreter": sys.executable,
                "voice_kiosk_command": str(BIN / "voice-kiosk"),
                "voice_kiosk_root": str(image),
                "voice_kiosk_staging": str(tmp_path / "staging"),
                "voice_kiosk_config": yaml.safe_load(FIVE_LINES),
                "voice_kiosk_api_key": KEY,
            }
        )
    )
    code, first, (_, changed, _, failed) = play(extra, tmp_path)
    assert (code, failed) == (0, 0), first
    assert changed >= 1, first
    assert "changed: /etc/voice-kiosk/config.yaml" in first
    tree = snapshot(image)

    code, second, (_, changed, _, failed) = play(extra, tmp_path)
    assert (code, changed, failed) == (0, 0, 0), second
    assert "nothing to change" in second
    assert snapshot(image) == tree
    for output in (first, second):
        assert KEY not in output


@pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-core (test extra)")
def test_a_bad_config_fails_the_play_with_the_loaders_lines(tmp_path: Path) -> None:
    image = tmp_path / "image"
    image.mkdir()
    extra = tmp_path / "vars.json"
    extra.write_text(
        json.dumps(
            {
                "voice_kiosk_hosts": "localhost",
                "voice_kiosk_become": False,
                "ansible_python_interpreter": sys.executable,
                "voice_kiosk_command": str(BIN / "voice-kiosk"),
                "voice_kiosk_root": str(image),
                "voice_kiosk_staging": str(tmp_path / "staging"),
                "voice_kiosk_config": {"conversation": {"idle_timeout_s": -3}},
                "voice_kiosk_api_key": KEY,
            }
        )
    )
    code, output, (_, _, _, failed) = play(extra, tmp_path)
    assert code != 0 and failed == 1, output
    assert "exited 2 (a bad config or key)" in output
    assert "conversation.idle_timeout_s: must be between 1 and 3600 (got -3)" in output
    assert KEY not in output
