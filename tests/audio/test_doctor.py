"""`voice-kiosk doctor` (audio part) against the private PulseAudio daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device.audio.settings import AudioSettings, PyAudioInput, PyAudioOutput
from device.doctor.audio import check_audio_in, check_audio_out
from device.doctor.result import Status
from tests.helpers.doctor import doctor
from tests.pulse import MIC_SOURCE, PulseServer, alsa_pulse_pcm


def test_json_lists_devices_meters_the_mic_and_plays_a_tone(pulse: PulseServer) -> None:
    code, text = doctor("--list", "--meter", "0.5", "--tone", "--json")
    assert code == 0, text
    report = json.loads(text)
    assert any(d["name"] == "pulse" and d["max_input_channels"] > 0 for d in report["devices"])
    assert report["meter"]["frames"] >= 20 and report["meter"]["gate_open"] is False
    assert report["tone"]["played_ms"] == 1000.0


def test_a_missing_configured_mic_fails_with_its_name(pulse: PulseServer, tmp_path: Path) -> None:
    config = tmp_path / "kiosk.yaml"
    config.write_text("audio:\n  input:\n    type: pyaudio\n    device: NoSuchCard\n")
    code, text = doctor("--config", str(config), "--meter", "0.5")
    assert code == 1
    assert "problem: no microphone 'NoSuchCard': this machine has 0: " in text  # what is
    assert "check the USB cable or audio.input.device" in text and "retrying" not in text


def test_the_meter_also_meters_the_barge_in_mic_of_raw_input(
    pulse: PulseServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alsa_pulse_pcm(tmp_path, "kiosk_raw", MIC_SOURCE)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = tmp_path / "kiosk.yaml"
    config.write_text("audio:\n  echo: {mode: software, raw_input: kiosk_raw}\n")
    code, text = doctor("--config", str(config), "--meter", "0.5")
    assert code == 0, text
    assert "barge-in mic kiosk_raw:" in text
    config.write_text("audio:\n  echo: {mode: software, raw_input: NoSuchRaw}\n")
    code, text = doctor("--config", str(config), "--meter", "0.5")
    assert code == 1
    assert "problem: no microphone 'NoSuchRaw'" in text and "retrying" not in text


def test_bad_meter_and_bad_config_are_one_line_usage_errors(tmp_path: Path) -> None:
    code, text = doctor("--meter", "-1")
    assert code == 2 and text.count("\n") == 1 and "--meter" in text
    bad = tmp_path / "bad.yaml"
    bad.write_text("audio:\n  gate:\n    hangover: 3\n")
    code, text = doctor("--config", str(bad), "--list")
    assert code == 2 and "audio.gate.hangover" in text and "Traceback" not in text


def test_the_checkup_opens_each_card_once_and_says_what_is_missing(pulse: PulseServer) -> None:
    """A missing card is the check's words and a fix, at once, not a retry loop."""
    missing = AudioSettings(
        input=PyAudioInput(device="NoSuchCard"), output=PyAudioOutput(device="NoSuchSpeaker")
    )
    heard = check_audio_in(missing, daemon_running=False)
    assert heard.status is Status.FAIL and heard.detail.startswith("no microphone 'NoSuchCard':")
    assert "USB cable or audio.input.device" in heard.fix and "retrying" not in heard.detail
    played = check_audio_out(missing, daemon_running=False)
    assert played.status is Status.FAIL and played.detail.startswith("no speaker 'NoSuchSpeaker':")
    assert "audio.output.device" in played.fix
    here = AudioSettings(input=PyAudioInput(device=None), output=PyAudioOutput(device=None))
    played = check_audio_out(here, daemon_running=False)
    assert played.status is Status.PASS, played
    held = check_audio_in(here, daemon_running=True)
    assert held.status is Status.SKIP and "systemctl stop voice-kiosk" in held.detail
