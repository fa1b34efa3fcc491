"""audio.barge_in and audio.echo in the config file: defaults, and bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.config.loader import ConfigError, load_settings


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


def test_the_confirmation_defaults_by_echo_mode_and_a_site_value_wins(tmp_path: Path) -> None:
    # through the sound server's canceller a caller's first syllables stay faint: 64 ms
    software = load_settings(config(tmp_path, "audio:\n  echo: {mode: software}\n")).audio
    assert software.barge_in.min_speech_ms is None
    assert software.barge_in.confirm_ms(software.echo.mode) == 64
    reference = load_settings(config(tmp_path, "audio: {}\n")).audio
    assert reference.barge_in.confirm_ms(reference.echo.mode) == 128
    text = "audio:\n  echo: {mode: software}\n  barge_in: {min_speech_ms: 96}\n"
    own = load_settings(config(tmp_path, text)).audio
    assert own.barge_in.confirm_ms(own.echo.mode) == 96


def test_software_with_the_raw_mic_is_judged_as_reference_and_misuse_is_named(
    tmp_path: Path,
) -> None:
    text = "audio:\n  echo: {mode: software, raw_input: kiosk_raw}\n"
    echo = load_settings(config(tmp_path, text)).audio.echo
    assert echo.raw_input == "kiosk_raw" and echo.judged_mode == "reference"
    plain = load_settings(config(tmp_path, "audio:\n  echo: {mode: software}\n")).audio.echo
    assert plain.judged_mode == "software"
    for text, where, why in [
        (
            "audio:\n  echo: {mode: hardware, raw_input: kiosk_raw}\n",
            ":2: audio.echo.raw_input: ",  # the line of the key the rule is about
            "raw_input is for mode software (the mic under the sound server's canceller); "
            "mode is hardware (got 'kiosk_raw')",
        ),
        (
            "audio:\n  input: {type: file, path: caller.wav}\n"
            "  echo: {mode: software, raw_input: kiosk_raw}\n",
            ":3: audio.echo.raw_input: ",
            "echo.raw_input needs a sound card input (input.type pyaudio): it is the mic "
            "under the sound server's canceller (got 'kiosk_raw')",
        ),
    ]:
        (tmp_path / "caller.wav").write_bytes(b"")
        path = config(tmp_path, text)
        with pytest.raises(ConfigError) as err:
            load_settings(path)
        assert str(err.value).splitlines() == [f"{path}{where}{why}"]
