"""The daemon end to end against the Realtime emulator on loopback.

The daemon runs in-process with its real adapters (WAV microphone and speaker, the websockets
link); the emulator runs in the same loop and validates every event in both directions
against the official `openai` types.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from device.audio.wav import read_wav
from tests.helpers import (
    DEMO_AUDIO,
    DEMO_CONFIG,
    KEY,
    QUESTION,
    ROOT,
    concat_wavs,
    one_turn,
    run_daemon,
    settings_for,
    validate,
)
from tools.demo import start_emulator
from tools.realtime_emulator import Emulator, Scenario


async def test_question_and_answer(tmp_path: Path) -> None:
    scenario = one_turn()
    async with Emulator(scenario, on_event=validate) as emu:
        summary = await run_daemon(settings_for(tmp_path, QUESTION), emu.url)
    assert summary.turns == 1
    assert summary.user_transcripts == ["What are your opening hours?"]
    assert summary.assistant_transcripts == ["We open at nine."]
    assert summary.errors == []
    assert len(summary.first_audio_latency_ms) == 1
    # the caller's question reached the server: ~1.85 s of speech plus silence around it
    assert emu.audio_received_ms >= 1500
    types = [e["type"] for e in emu.received]
    assert types[0] == "session.update"
    assert "input_audio_buffer.append" in types
    # the reply was played: the WAV speaker holds all of it, and it is not silence
    pcm, rate, _ = read_wav(tmp_path / "reply.wav")
    assert rate == 24000
    assert len(pcm) / 48 == pytest.approx(summary.reply_audio_ms, abs=1)
    assert summary.reply_audio_ms > 500
    assert (
        max(
            abs(int.from_bytes(pcm[i : i + 2], "little", signed=True))
            for i in range(0, len(pcm), 200)
        )
        > 1000
    )


@pytest.mark.slow
async def test_two_turns_in_one_session(tmp_path: Path) -> None:
    question = concat_wavs(tmp_path / "two.wav", [QUESTION, DEMO_AUDIO / "thanks.wav"], 2500)
    scenario = Scenario.from_dict(
        {
            "turns": [
                {"user": "What are your opening hours?", "reply": "Nine to five."},
                {"user": "Thank you, goodbye.", "reply": "Goodbye."},
            ]
        }
    )
    async with Emulator(scenario, on_event=validate) as emu:
        summary = await run_daemon(settings_for(tmp_path, question, speed=4.0), emu.url)
    assert summary.turns == 2
    assert summary.assistant_transcripts == ["Nine to five.", "Goodbye."]
    assert emu.sessions == 1
    assert len(summary.first_audio_latency_ms) == 2


async def test_a_rate_limit_error_mid_session_is_reported_and_the_caller_told_it_is_busy(
    tmp_path: Path,
) -> None:
    scenario = Scenario.from_dict(
        {
            "turns": [
                {
                    "user": "What are your opening hours?",
                    "error": {"code": "rate_limit_exceeded", "message": "slow down"},
                    "reply": "We open at nine.",
                }
            ]
        }
    )
    async with Emulator(scenario, on_event=validate) as emu:
        summary = await run_daemon(settings_for(tmp_path, QUESTION), emu.url)
    # the busy prompt, never silence: the server refused to answer (link issue, item 6)
    assert [e["code"] for e in summary.errors] == ["rate_limit_exceeded", "busy"]
    assert summary.conversations == 1


@pytest.mark.slow
async def test_session_expiry_mid_conversation_is_reported_not_a_crash(tmp_path: Path) -> None:
    scenario = one_turn()
    async with Emulator(scenario, on_event=validate, max_session_s=0.5) as emu:
        summary = await run_daemon(settings_for(tmp_path, QUESTION, speed=1.0), emu.url)
    assert "session_expired" in [e["code"] for e in summary.errors]


async def test_server_unreachable_is_one_error_and_the_daemon_exits_cleanly(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, QUESTION)
    summary = await run_daemon(settings, "ws://127.0.0.1:9/v1/realtime")
    assert [e["code"] for e in summary.errors] == ["link_lost"]
    assert "127.0.0.1:9" in summary.errors[0]["message"]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "device", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=60,
    )


@pytest.mark.slow
def test_bad_config_is_refused_with_file_line_and_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("realtime:\n  voice: robot\naudio:\n  gate:\n    hangover: 3\n")
    for args in (["check-config", str(bad)], ["run", "--config", str(bad)]):
        result = cli(*args)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert any(line.startswith(f"{bad}:2: realtime.voice:") for line in lines), lines
        assert any(
            f"{bad}:5: audio.gate.hangover:" in line and "hangover_ms" in line for line in lines
        ), lines
        assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_missing_api_key_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "CREDENTIALS_DIRECTORY")
    }
    result = cli("run", "--config", str(DEMO_CONFIG), env=env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "OPENAI_API_KEY" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_cli_runs_a_conversation_and_writes_the_summary(tmp_path: Path) -> None:
    scenario = ROOT / "tools/scenarios/demo.yaml"
    emulator, url = start_emulator(scenario, tmp_path / "emulator.log")
    try:
        out = tmp_path / "summary.json"
        result = cli(
            "run",
            "--config",
            str(DEMO_CONFIG),
            "--realtime-url",
            url,
            "--summary-json",
            str(out),
            "--set",
            f"audio.output.path={tmp_path / 'reply.wav'}",
            env=dict(os.environ, OPENAI_API_KEY=KEY),
        )
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout + result.stderr
    summary = json.loads(out.read_text())
    for key in (
        "turns",
        "user_transcripts",
        "assistant_transcripts",
        "tool_calls",
        "reply_audio_ms",
        "first_audio_latency_ms",
        "errors",
    ):
        assert key in summary
    # the demo: the caller asks, the model answers at length from the faq tool; the caller
    # talks over it and it stops (cut where the caller spoke, 3.4 s into the reply's audio);
    # the short answer; the caller says goodbye, the model hangs up with end_session and
    # the canned goodbye plays
    assert summary["turns"] == 3 and summary["reply_audio_ms"] > 500
    assert [c["name"] for c in summary["tool_calls"]] == ["faq", "faq", "end_session"]
    assert summary["assistant_transcripts"][-1] == "We are open Monday to Friday, 8 am to 6 pm."
    assert summary["interruptions"] == 1, summary
    assert 2500 < summary["truncated_at_ms"][0] < 4500
    assert summary["interrupt_stop_ms"][0] < 50
    assert summary["prompt_audio_ms"] > 300 and summary["hangup_ms"][0] < 1500
    # (at real time: the echo reference follows the wall clock, as on a device)
    assert "interrupt  #1 by local speech detection" in result.stdout
    assert "listening -> thinking" in result.stdout  # the timeline
    assert "tool   faq(" in result.stdout
