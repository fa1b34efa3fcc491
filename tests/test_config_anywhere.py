"""A config written anywhere works (issue 26, item 6): a few lines in a folder of its own,
with no prompts/ beside it, pass check-config, load, and serve a caller; whatever the file's
line endings, byte-order mark or merges. Range errors name the key's own line."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from device.audio.settings import FileInput
from device.config.loader import check_config, load_settings
from device.prompts import PACKAGED_PROMPTS
from tests.openai_schema import assert_client_event, assert_server_event
from tools.realtime_emulator import Emulator, Scenario

ROOT = Path(__file__).resolve().parent.parent
QUESTION = ROOT / "tools/demo_audio/question.wav"
KEY = "test-key-not-a-secret"

FIVE_LINES = (
    "audio:\n"
    "  input: {type: file, path: caller.wav, tail_silence_ms: 2000}\n"
    "  output: {type: file, path: reply.wav}\n"
    "conversation:\n"
    "  start: at_startup\n"
)
MERGED = (
    "x-file: &file {type: file}\n"
    "audio:\n"
    "  input: {<<: *file, path: caller.wav, tail_silence_ms: 2000}\n"
    "  output:\n"
    "    <<: *file\n"
    "    path: reply.wav\n"
    "conversation: {start: at_startup}\n"
)
VARIANTS = {
    "plain": FIVE_LINES.encode(),
    "crlf": FIVE_LINES.replace("\n", "\r\n").encode(),
    "bom": b"\xef\xbb\xbf" + FIVE_LINES.encode(),
    "merge": MERGED.encode(),
    "bom-crlf-merge": b"\xef\xbb\xbf" + MERGED.replace("\n", "\r\n").encode(),
}


def fresh_site(tmp_path: Path, text: bytes) -> Path:
    """A folder like /etc/voice-kiosk/: the config and the caller's WAV, nothing else."""
    site = tmp_path / "etc-voice-kiosk"
    site.mkdir()
    shutil.copyfile(QUESTION, site / "caller.wav")
    config = site / "kiosk.yaml"
    config.write_bytes(text)
    return config


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_short_config_in_a_folder_of_its_own_passes_check_config_and_loads(
    tmp_path: Path, variant: str
) -> None:
    config = fresh_site(tmp_path, VARIANTS[variant])
    assert not (config.parent / "prompts").exists()
    out, err = io.StringIO(), io.StringIO()
    assert check_config(config, out, err) == 0, err.getvalue()
    assert out.getvalue().startswith(f"{config}: OK (model ")
    assert err.getvalue() == ""
    settings = load_settings(config)
    assert settings.conversation.prompts_dir is None  # the packaged prompts play
    assert settings.conversation.start == "at_startup"
    assert isinstance(settings.audio.input, FileInput)
    assert settings.audio.input.path == config.parent / "caller.wav"


def test_a_site_folder_replaces_the_packaged_prompts_and_is_checked(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    config = site / "kiosk.yaml"
    config.write_text("conversation:\n  prompts_dir: prompts\n")
    out, err = io.StringIO(), io.StringIO()
    assert check_config(config, out, err) == 2
    assert err.getvalue() == (
        f"{config}:2: conversation.prompts_dir: no such folder {site / 'prompts'}\n"
    )
    shutil.copytree(PACKAGED_PROMPTS, site / "prompts")
    assert check_config(config, io.StringIO(), io.StringIO()) == 0
    assert load_settings(config).conversation.prompts_dir == site / "prompts"


def test_a_prompt_a_tool_names_must_be_among_the_packaged_ones_too(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.yaml"
    config.write_text("tools:\n  items:\n    - {kind: end_session, prompt: farewell}\n")
    err = io.StringIO()
    assert check_config(config, io.StringIO(), err) == 2
    [line] = err.getvalue().splitlines()
    assert line.startswith(
        f"{config}:3: tools.items[0].prompt: no prompt farewell.wav in {PACKAGED_PROMPTS} "
    )
    assert "set conversation.prompts_dir" in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "audio:\n  gate:\n    enabled: true\n    open_db: 0\n",
            ":4: audio.gate.open_db: close_db 5.0 is above open_db 0.0: the gate would close "
            "while still over its open threshold (got 0)",
        ),
        (
            "audio:\n  input:\n    type: pyaudio\n    channel: 99\n",
            ":4: audio.input.channel: must be between 0 and 15 (got 99)",
        ),
        (
            "audio:\n  input:\n    type: pyaudio\n    channels: 2\n\n    channel: 9\n",
            ":6: audio.input.channel: channel 9 does not exist: channels is 2 "
            "(channels are counted from 0) (got 9)",
        ),
        (  # both keys in the file: the first one the check names
            "audio:\n  gate:\n    close_db: 9\n    open_db: 3\n",
            ":3: audio.gate.close_db: close_db 9.0 is above open_db 3.0: the gate would close "
            "while still over its open threshold (got 9)",
        ),
    ],
)
def test_a_range_error_names_the_keys_own_line(tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "kiosk.yaml"
    config.write_text(text)
    err = io.StringIO()
    assert check_config(config, io.StringIO(), err) == 2
    assert err.getvalue().splitlines() == [f"{config}{expected}"]


def validate(direction: str, event: dict[str, Any]) -> None:
    if direction == "client":
        assert_client_event(event)
    else:
        assert_server_event(event)


async def test_the_daemon_serves_from_a_five_line_config_in_a_fresh_folder(
    tmp_path: Path,
) -> None:
    """``voice-kiosk run`` with nothing but the file and its caller: a whole conversation."""
    config = fresh_site(tmp_path, FIVE_LINES.encode())
    site = config.parent
    scenario = Scenario.from_dict(
        {"turns": [{"user": "What are your opening hours?", "reply": "We open at nine."}]}
    )
    env = dict(os.environ, OPENAI_API_KEY=KEY, PYTHONPATH=str(ROOT))
    async with Emulator(scenario, on_event=validate) as emu:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "device",
            "run",
            "--config",
            str(config),
            "--realtime-url",
            emu.url,
            "--summary-json",
            str(site / "summary.json"),
            cwd=site,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 90)
    out, err = stdout.decode(), stderr.decode()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and KEY not in out + err
    assert "prompts" not in err  # no missing-prompts warning: the packaged ones loaded
    summary = json.loads((site / "summary.json").read_text())
    assert summary["conversations"] == 1 and summary["turns"] >= 1, summary
    assert summary["assistant_transcripts"] == ["We open at nine."]
    assert summary["errors"] == []
    assert "listening -> thinking" in out
    assert (site / "reply.wav").stat().st_size > 44
    assert sorted(p.name for p in site.iterdir()) == [
        "caller.wav",
        "kiosk.yaml",
        "reply.wav",
        "summary.json",
    ]
