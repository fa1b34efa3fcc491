"""The recorder on a real daemon against the Realtime emulator: the transcript of a
conversation with a tool call (a secret argument masked), the caller's audio per turn as
long as what was uploaded, the reply as played, consent required and not given (no audio),
and recording off (nothing of the conversation anywhere in the state folder)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import shutil
import stat
import sys
import wave
from pathlib import Path
from typing import Any

import pytest

from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker
from device.config.settings import Settings
from device.daemon.daemon import Daemon
from device.daemon.drain import RunOptions
from device.metrics.service import MetricsService
from device.prompts.library import PromptLibrary
from device.recording.service import RecorderService, build_recorder, recordings_root
from device.services.ports import Service, Stats
from device.tools.toolbox import Toolbox
from tests.helpers import (
    ANSWER,
    ASKED,
    KEY,
    QUESTION,
    ROOT,
    connect_to,
    one_turn,
    settings_for,
    validate,
)
from tools.realtime_emulator import Emulator, Scenario

pytestmark = pytest.mark.slow

SECRET = "tok-4f1c9e-not-for-the-disk"


def _settings(tmp_path: Path, **recording: Any) -> Settings:
    base = settings_for(tmp_path, QUESTION, speed=4.0)
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    rec = dataclasses.replace(base.recording, state_dir=state, **recording)
    metrics = dataclasses.replace(base.metrics, state_dir=state)
    return dataclasses.replace(base, recording=rec, metrics=metrics)


def _with_tool_call() -> Scenario:
    arguments = {"question": "opening hours", "access_token": SECRET}
    return Scenario.from_dict(
        {
            "turns": [
                {
                    "user": ASKED,
                    "tool_call": {"name": "faq", "arguments": arguments},
                    "reply": ANSWER,
                }
            ]
        }
    )


async def _run(
    settings: Settings, scenario: Scenario, rec: RecorderService, *extra: Service
) -> Stats:
    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    toolbox = Toolbox.from_settings(settings.tools, credentials=None, audit_path=None)
    async with Emulator(scenario, on_event=validate) as emu:
        daemon = Daemon(
            settings,
            mic=WavMic(settings.audio.input),
            speaker=WavSpeaker(settings.audio.output),
            connect=connect_to(emu.url, settings),
            toolbox=toolbox,
            options=RunOptions(exit_when_input_ends=True, drain_timeout_s=20),
            prompts=PromptLibrary.load(settings.conversation.prompts_dir),
            services=[*extra, rec],
            taps=[rec],
        )
        try:
            summary = await daemon.run()
        finally:
            await toolbox.close()
    assert summary.turns == 1
    return daemon.stats()


def _recorder(settings: Settings) -> RecorderService:
    rec = build_recorder(settings, "c0ffee" * 10 + "c0ff", {})
    assert rec is not None
    return rec


def _folder(settings: Settings) -> Path:
    root = recordings_root(settings.recording, {})
    assert root is not None
    (folder,) = root.iterdir()
    return folder


def _lines(folder: Path) -> list[dict[str, Any]]:
    text = (folder / "conversation.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def _wav_ms(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        return w.getnframes() / 24.0


async def test_a_transcript_holds_the_words_the_tool_call_masked_and_the_outcome(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, transcripts=True)
    await _run(settings, _with_tool_call(), _recorder(settings))
    folder = _folder(settings)
    assert sorted(p.name for p in folder.iterdir()) == ["conversation.jsonl"]
    lines = _lines(folder)
    kinds = [line["type"] for line in lines]
    assert kinds[0] == "conversation" and kinds[-1] == "end"
    assert lines[0]["config_sha256"].startswith("c0ffee") and lines[0]["audio"] is False
    assert [x["text"] for x in lines if x["type"] == "caller"] == [ASKED]
    assert ANSWER in [x["text"] for x in lines if x["type"] == "assistant"]
    (tool,) = [x for x in lines if x["type"] == "tool"]
    assert tool["name"] == "faq"
    assert tool["arguments"] == {"question": "opening hours", "access_token": "***"}
    assert tool["output"]  # what the tool answered (here: its arguments refused)
    end = lines[-1]
    assert end["outcome"] and end["turns"] == 1 and end["tool_calls"] == 1
    assert all(isinstance(x.get("t_ms", 0.0), float) for x in lines)
    assert SECRET not in (folder / "conversation.jsonl").read_text()
    assert stat.S_IMODE((folder / "conversation.jsonl").stat().st_mode) == 0o600


async def test_with_audio_the_callers_turns_are_as_long_as_the_upload_and_replies_as_played(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, transcripts=True, audio=True)
    stats = await _run(settings, one_turn(), _recorder(settings))
    folder = _folder(settings)
    callers = sorted(folder.glob("turn-*-caller.wav"))
    replies = sorted(folder.glob("reply-*.wav"))
    assert callers[0].name == "turn-01-caller.wav" and replies
    for path in [*callers, *replies, folder / "conversation.jsonl"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    uploaded_ms = stats.audio_sent_chunks * settings.audio.upload_chunk_ms
    assert stats.audio_sent_chunks > 0
    assert sum(_wav_ms(p) for p in callers) == pytest.approx(uploaded_ms, abs=0.1)
    assert sum(_wav_ms(p) for p in replies) == pytest.approx(stats.reply_audio_ms, abs=0.1)
    lines = _lines(folder)
    turns = [x for x in lines if x["type"] == "turn"]
    assert turns[0] == {**turns[0], "turn": 1, "ended": True, "caller_audio": callers[0].name}
    listed = [x["file"] for x in lines if x["type"] == "reply_audio"]
    assert listed == [p.name for p in replies]


async def test_consent_required_and_never_given_keeps_no_audio(tmp_path: Path) -> None:
    settings = _settings(tmp_path, transcripts=True, audio=True, consent="required")
    stats = await _run(settings, one_turn(), _recorder(settings))
    folder = _folder(settings)
    assert [p.name for p in folder.iterdir()] == ["conversation.jsonl"]
    end = _lines(folder)[-1]
    assert end["audio_files"] == []
    expected_ms = stats.audio_sent_chunks * settings.audio.upload_chunk_ms
    assert end["caller_audio_not_kept_ms"] == pytest.approx(expected_ms, abs=0.1)


async def test_with_recording_off_nothing_of_the_conversation_is_in_the_state_folder(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)  # transcripts and audio off (the default)
    assert build_recorder(settings, "", {}) is None
    state = settings.recording.state_dir
    assert state is not None
    root = recordings_root(settings.recording, {})
    assert root is not None
    rec = RecorderService(settings.recording, root=root)  # built anyway: it must stay quiet
    metrics = MetricsService(settings.metrics, chunk_ms=40, ledger_path=state / "spend.json")
    stats = await _run(settings, _with_tool_call(), rec, metrics)
    assert stats.audio_sent_chunks > 0 and stats.conversations == 1
    assert not root.exists()
    words = [ASKED, ANSWER, "opening hours", SECRET, "conv-1"]
    for path in state.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found = [w for w in words if w.encode() in data]
            assert not found, f"{path} holds {found}"
            assert not data.startswith(b"RIFF"), f"{path} is audio"


CONFIG = (
    "audio:\n"
    "  input: {type: file, path: caller.wav, tail_silence_ms: 2000}\n"
    "  output: {type: file, path: reply.wav}\n"
    "conversation:\n"
    "  start: at_startup\n"
    "recording:\n"
    "  transcripts: true\n"
    "  audio: true\n"
    "  state_dir: state\n"
)


async def test_voice_kiosk_run_records_with_the_config_files_hash(tmp_path: Path) -> None:
    """The wiring of `voice-kiosk run`: the recorder is a service and hears the audio."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copyfile(QUESTION, site / "caller.wav")
    config = site / "kiosk.yaml"
    config.write_text(CONFIG)
    env = dict(os.environ, OPENAI_API_KEY=KEY, PYTHONPATH=str(ROOT))
    env.pop("STATE_DIRECTORY", None)
    async with Emulator(one_turn(), on_event=validate) as emu:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "device", "run", "--config", str(config),
            "--realtime-url", emu.url, cwd=site, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, stderr = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, stderr.decode()
    (folder,) = (site / "state" / "recordings").iterdir()
    lines = _lines(folder)
    assert lines[0]["config_sha256"] == hashlib.sha256(CONFIG.encode()).hexdigest()
    assert [x["text"] for x in lines if x["type"] == "caller"] == [ASKED]
    assert (folder / "turn-01-caller.wav").stat().st_size > 44
    assert (folder / "reply-01.wav").stat().st_size > 44
