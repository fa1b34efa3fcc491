"""audio.barge_in and audio.echo in the config file: defaults, and bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.config import ConfigError, load_settings


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.yaml"
    path.write_text(text)
    return path


def test_defaults_detect_locally_and_weigh_the_echo(tmp_path: Path) -> None:
    audio = load_settings(config(tmp_path, "audio: {}\n")).audio
    assert audio.barge_in.local_vad is True
    assert audio.echo.mode == "reference"


def test_file_caller_timeline_and_echo(tmp_path: Path) -> None:
    (tmp_path / "caller.wav").write_bytes(b"")
    text = "audio:\n  input: {type: file, path: caller.wav, caller: timeline, echo_db: -12}\n"
    audio = load_settings(config(tmp_path, text)).audio
    assert audio.input.caller == "timeline" and audio.input.echo_db == -12  # type: ignore[union-attr]


def test_bad_values_are_one_line_each_with_file_and_line(tmp_path: Path) -> None:
    text = "audio:\n  echo:\n    mode: loud\n  barge_in:\n    threshold: 2\n"
    path = config(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    lines = str(err.value).splitlines()
    assert (
        f"{path}:3: audio.echo.mode: must be one of hardware, software, reference, "
        "half_duplex (got 'loud')" in lines
    )
    assert f"{path}:5: audio.barge_in.threshold: must be between 0.05 and 0.99 (got 2)" in lines
