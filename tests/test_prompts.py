"""The canned prompts: the committed WAVs, the site's own folder (make-prompts), and the
library's report of missing ones.

Speech is judged by the real Silero VAD model, not by a level alone.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr

from device.audio.frames import SPEECH_RATE_HZ
from device.cli.main import main as cli_main
from device.config.settings import ConversationSettings
from device.prompts import PACKAGED_PROMPTS
from device.prompts.library import CATALOGUE, REQUIRED_PROMPTS, PromptLibrary
from device.prompts.making import load_prompts, make, trim
from device.prompts.making import main as tool_main
from device.vad.silero import RATE_HZ, WINDOW_SAMPLES, SileroModel

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = PACKAGED_PROMPTS
PHARMACY = "Please ask at the pharmacy counter"


def samples_of(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SPEECH_RATE_HZ, 1, 2)
        assert w.getcomptype() == "NONE", path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


@pytest.fixture(scope="module")
def vad() -> SileroModel:
    return SileroModel()


def speech_fraction(vad: SileroModel, samples: np.ndarray) -> float:
    """Share of 32 ms windows Silero calls speech (p > 0.5)."""
    vad.reset()
    audio = soxr.resample(samples.astype(np.float32) / 32768, SPEECH_RATE_HZ, RATE_HZ)
    count = len(audio) // WINDOW_SAMPLES
    windows = audio[: count * WINDOW_SAMPLES].reshape(count, WINDOW_SAMPLES)
    return sum(vad.probability(w) > 0.5 for w in windows) / count


def site_config(tmp_path: Path, message: str = PHARMACY) -> Path:
    config = tmp_path / "site.yaml"
    config.write_text(f"conversation:\n  offline_message: {message}\n  prompts_dir: prompts\n")
    return config


def test_every_prompt_is_committed_as_speech_within_its_limit(vad: SileroModel) -> None:
    texts = load_prompts(DEFAULTS / "prompts.yaml")
    assert set(texts) == set(CATALOGUE)
    assert {"connection_lost", "offline", "back_online", "busy"} <= set(texts)
    for name, role in CATALOGUE.items():
        samples = samples_of(DEFAULTS / f"{name}.wav")
        seconds = len(samples) / SPEECH_RATE_HZ
        assert 0.4 < seconds <= role.max_s, (name, seconds)
        assert speech_fraction(vad, samples) > 0.5, name
    for name in ("connection_lost", "busy", "back_online"):
        assert len(samples_of(DEFAULTS / f"{name}.wav")) <= 3 * SPEECH_RATE_HZ, name
    assert texts["connection_lost"] == "Sorry, I lost the connection. One moment, please."
    assert texts["busy"] == "We are very busy right now, please try again in a minute."
    # the committed offline.wav says what a site that sets nothing says
    assert texts["offline"] == ConversationSettings().offline_message


def test_a_prompt_starts_at_once_and_pauses_stay_short(tmp_path: Path) -> None:
    make("One. Two. Three.", tmp_path / "count.wav")
    samples = samples_of(tmp_path / "count.wav")
    loud = np.abs(samples.astype(np.int32)) > 200
    assert np.argmax(loud) <= SPEECH_RATE_HZ * 0.05 + 1  # 50 ms of lead-in at most
    window = SPEECH_RATE_HZ // 100
    peaks = np.abs(samples[: len(samples) // window * window].astype(np.int32))
    quiet = peaks.reshape(-1, window).max(axis=1) <= 200
    longest, run = 0, 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    assert 5 <= longest * 10 <= 150  # the sentence pauses are there, and short


def test_trim_leaves_silence_alone() -> None:
    silence = np.zeros(SPEECH_RATE_HZ, dtype="<i2")
    assert len(trim(silence, SPEECH_RATE_HZ)) == SPEECH_RATE_HZ


def test_make_prompts_writes_the_site_folder_with_its_own_offline_words(
    tmp_path: Path, vad: SileroModel, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["make-prompts", "--config", str(site_config(tmp_path))]) == 0
    site = tmp_path / "prompts"
    offline = samples_of(site / "offline.wav")
    default = samples_of(DEFAULTS / "offline.wav")
    assert offline.shape != default.shape or not np.array_equal(offline, default)
    assert abs(len(offline) - len(default)) > SPEECH_RATE_HZ // 2  # other, shorter words
    assert speech_fraction(vad, offline) > 0.5
    assert np.sqrt(np.mean(offline.astype(np.float64) ** 2)) > 1000  # loud enough to hear
    for name in (CATALOGUE.keys() | {"chime"}) - {"offline"}:
        assert (site / f"{name}.wav").read_bytes() == (DEFAULTS / f"{name}.wav").read_bytes()
    assert load_prompts(site / "prompts.yaml")["offline"] == PHARMACY
    assert "chime" not in load_prompts(site / "prompts.yaml")  # a sound: no words to list
    library = PromptLibrary.load(site)
    assert library.missing() == [] and library.missing_line() is None
    out = capsys.readouterr().out
    assert "offline.wav: " in out and PHARMACY in out


def test_make_prompts_keeps_recordings_unless_replace(tmp_path: Path) -> None:
    site = tmp_path / "prompts"
    site.mkdir()
    recording = DEFAULTS / "back_online.wav"  # stands in for the operator's own goodbye
    (site / "goodbye.wav").write_bytes(recording.read_bytes())
    (site / "prompts.yaml").write_text("goodbye: I'm back online.\n")
    config = site_config(tmp_path)
    assert tool_main(["--config", str(config)]) == 0  # python -m device.prompts.making --config
    assert (site / "goodbye.wav").read_bytes() == recording.read_bytes()
    assert load_prompts(site / "prompts.yaml")["goodbye"] == "I'm back online."
    first_offline = (site / "offline.wav").read_bytes()
    config.write_text(config.read_text().replace(PHARMACY, "Please ask the driver"))
    assert tool_main(["--config", str(config), "--replace"]) == 0
    assert (site / "goodbye.wav").read_bytes() == (DEFAULTS / "goodbye.wav").read_bytes()
    assert (site / "offline.wav").read_bytes() != first_offline  # always made from the config


def test_make_prompts_bad_usage_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli_main(["make-prompts"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[-1] == "voice-kiosk make-prompts: error: the following arguments are required: --config"
    )
    with pytest.raises(SystemExit) as stop:
        tool_main(["--config", "x.yaml", "--only", "busy"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().endswith("not with --prompts or --only")


@pytest.mark.parametrize(
    ("config_text", "expected"),
    [
        ("conversation:\n  offline_message: ''\n", r"2: conversation.offline_message: "),
        ("conversation:\n  offline_message: " + "x" * 201 + "\n", r"201 characters, at most 200"),
        ("conversation:\n  prompts_dir: DEFAULTS\n", r"is the packaged default prompts folder"),
        ("conversation:\n  start: at_startup\n", r"prompts_dir is not set .* or pass --out DIR"),
    ],
)
def test_make_prompts_refuses_a_bad_config_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config_text: str, expected: str
) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(config_text.replace("DEFAULTS", str(DEFAULTS)))
    assert cli_main(["make-prompts", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert re.search(expected, err), err
    assert not (tmp_path / "prompts").exists()


def test_make_prompts_names_an_unwritable_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a-file"
    out.write_text("not a folder")
    config = site_config(tmp_path)
    assert cli_main(["make-prompts", "--config", str(config), "--out", str(out / "p")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"{out / 'p'}: cannot write the prompts folder: Not a directory"


def test_make_prompts_without_espeak_ng_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert cli_main(["make-prompts", "--config", str(site_config(tmp_path))]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "espeak-ng is not installed (apt install espeak-ng): cannot make offline.wav"


def test_the_library_names_missing_required_prompts(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    for name in CATALOGUE:
        if name != "busy":
            (folder / f"{name}.wav").write_bytes((DEFAULTS / f"{name}.wav").read_bytes())
    with wave.open(str(folder / "connection_lost.wav"), "wb") as w:  # an empty recording
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SPEECH_RATE_HZ)
    library = PromptLibrary.load(folder)
    assert set(REQUIRED_PROMPTS) == {"error", "connection_lost", "offline", "busy"}
    assert library.missing() == ["connection_lost", "busy"]
    assert library.missing(["goodbye", "busy"]) == ["busy"]
    line = library.missing_line()
    assert line is not None and "\n" not in line
    assert line.startswith(f"no prompt connection_lost.wav, busy.wav in {folder}: ")
    assert "voice-kiosk make-prompts --config FILE" in line
    assert PromptLibrary.load(tmp_path / "nowhere").missing() == list(REQUIRED_PROMPTS)


def test_without_prompts_dir_the_library_plays_the_packaged_prompts() -> None:
    assert ConversationSettings().prompts_dir is None
    library = PromptLibrary.load(None)
    assert library.folder == PACKAGED_PROMPTS
    assert library.missing() == []
    assert set(library.names()) >= set(CATALOGUE) | {"chime"}
    # the wheel ships `device` only: every file of the folder is its package data
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = data["package-data"]["device"]
    device = ROOT / "device"
    for path in PACKAGED_PROMPTS.iterdir():
        name = path.relative_to(device).as_posix()
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
