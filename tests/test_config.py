"""Config loading: every problem is one line FILE:LINE: key.path: what (got VALUE)."""

from __future__ import annotations

import dataclasses
import io
import typing
from pathlib import Path

import pytest

from device.audio.settings import FileInput, PyAudioInput
from device.config import ConfigError, apply_overrides, check_config, load_settings
from device.realtime.settings import SemanticVad, ServerVad
from device.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "kiosk.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    prefix = f"{path}:"
    for line in err.value.problems:
        assert line.startswith(prefix) and "\n" not in line and "Traceback" not in line
    return [line.removeprefix(prefix) for line in err.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "realtime:\n  voice: robot\n",
            "2: realtime.voice: must be one of alloy, ash, ballad, coral, echo, sage, shimmer, "
            "verse, marin, cedar (got 'robot')",
        ),
        ("realtime:\n  speed: 9\n", "2: realtime.speed: must be between 0.25 and 1.5 (got 9)"),
        ("realtime:\n  speed: fast\n", "2: realtime.speed: must be a number (got 'fast')"),
        (
            "audio:\n  upload_chunk_ms: 40.5\n",
            "2: audio.upload_chunk_ms: must be a whole number (got 40.5)",
        ),
        (
            "audio:\n  upload_chunk_ms: true\n",
            "2: audio.upload_chunk_ms: must be a whole number (got True)",
        ),
        (
            "logging:\n  timeline: yes please\n",
            "2: logging.timeline: must be true or false (got 'yes please')",
        ),
        (
            "conversation:\n  idle_timeout_s: 0\n",
            "2: conversation.idle_timeout_s: must be >= 1 (got 0)",
        ),
        ("realtime:\n  voise: cedar\n", "2: realtime.voise: unknown key (did you mean 'voice'?)"),
        ("colour: red\n", "1: colour: unknown key"),
        (
            "audio:\n  input:\n    type: mic\n",
            "3: audio.input.type: must be one of file, pyaudio (got 'mic')",
        ),
        (
            "audio:\n  input:\n    device: USB\n",
            "3: audio.input.type: required: one of file, pyaudio",
        ),
        ("audio:\n  input:\n    type: file\n", "3: audio.input.path: required key is missing"),
        (
            "realtime:\n  turn_detection:\n    type: server_vad\n    threshold: 2\n",
            "4: realtime.turn_detection.threshold: must be between 0 and 1 (got 2)",
        ),
        (
            "audio:\n  input:\n    type: pyaudio\n    channels: 2\n    channel: 2\n",
            "3: audio.input: channel 2 does not exist: channels is 2 (channels are counted from 0)",
        ),
        ("realtime: [1, 2]\n", "1: realtime: must be a mapping of keys (got [1, 2])"),
        (
            "realtime:\n  voice: [marin]\n",
            "2: realtime.voice: must be one of alloy, ash, ballad, coral, echo, sage, shimmer, "
            "verse, marin, cedar (got ['marin'])",
        ),
        ("realtime:\n  model:\n", "2: realtime.model: must not be empty"),
        ("realtime:\n  voice: marin\n  speed: [1\n", None),  # syntax error, checked below
    ],
)
def test_each_problem_names_line_key_and_value(
    tmp_path: Path, text: str, expected: str | None
) -> None:
    got = problems(tmp_path, text)
    if expected is None:
        assert len(got) == 1 and "invalid YAML" in got[0]
    else:
        assert got == [expected]


@pytest.mark.parametrize("key", ["api_key", "OPENAI_API_KEY", "token", "password", "Authorization"])
def test_secrets_in_yaml_are_refused_and_never_echoed(tmp_path: Path, key: str) -> None:
    got = problems(tmp_path, f"realtime:\n  {key}: sk-live-123456\n")
    assert len(got) == 1
    assert got[0].startswith(f"2: realtime.{key}: secrets never go in YAML")
    assert "sk-live" not in got[0]


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    got = problems(
        tmp_path,
        "realtime:\n  voice: robot\n  speed: 3\naudio:\n  input:\n    type: file\n    pth: x\n",
    )
    assert [g.split(":")[0] for g in got] == ["2", "3", "7"]


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    settings = load_settings(path)
    assert settings.realtime == Settings().realtime
    assert settings.conversation.prompts_dir == tmp_path / "prompts"


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "k.yaml"
    path.write_text("audio:\n  input:\n    type: file\n    path: ../q.wav\n")
    inp = load_settings(path).audio.input
    assert isinstance(inp, FileInput) and inp.path == tmp_path / "q.wav"


def test_union_variants_are_chosen_by_type(tmp_path: Path) -> None:
    path = tmp_path / "k.yaml"
    path.write_text("realtime:\n  turn_detection:\n    type: semantic_vad\n    eagerness: low\n")
    assert load_settings(path).realtime.turn_detection == SemanticVad(eagerness="low")


def test_missing_and_unreadable_files_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "nope.yaml")
    assert err.value.problems == [f"{tmp_path / 'nope.yaml'}: no such config file"]


@pytest.mark.parametrize("name", ["demo", "clinic", "shop", "field-tech"])
def test_every_example_loads(name: str) -> None:
    settings = load_settings(ROOT / f"firmware_config/examples/{name}.yaml")
    assert settings.conversation.prompts_dir == ROOT / "firmware_config/prompts"


def test_default_yaml_is_the_defaults() -> None:
    settings = load_settings(ROOT / "firmware_config/default.yaml")
    expected = dataclasses.replace(
        Settings(),
        conversation=dataclasses.replace(
            Settings().conversation, prompts_dir=ROOT / "firmware_config/prompts"
        ),
    )
    assert settings == expected


def _field_names(cls: type) -> set[str]:
    names: set[str] = set()
    for f in dataclasses.fields(cls):
        names.add(f.name)
        tp = typing.get_type_hints(cls)[f.name]
        for member in (*typing.get_args(tp), tp):
            if dataclasses.is_dataclass(member) and isinstance(member, type):
                names |= _field_names(member)
    return names


def test_default_yaml_documents_every_setting() -> None:
    """A new setting without a line in the reference file fails here."""
    text = (ROOT / "firmware_config/default.yaml").read_text()
    undocumented = sorted(n for n in _field_names(Settings) if f"{n}:" not in text)
    assert undocumented == []


def test_overrides_are_validated_like_the_file() -> None:
    settings = load_settings(ROOT / "firmware_config/examples/demo.yaml")
    changed = apply_overrides(
        settings, {"realtime.url": "ws://127.0.0.1:1/x", "audio.input.speed": "0"}
    )
    assert changed.realtime.url == "ws://127.0.0.1:1/x"
    assert isinstance(changed.audio.input, FileInput) and changed.audio.input.speed == 0
    with pytest.raises(ConfigError) as err:
        apply_overrides(settings, {"realtime.speed": "7", "realtime.vocie": "x"})
    assert err.value.problems == [
        "--set realtime.speed: must be between 0.25 and 1.5 (got 7)",
        "--set realtime.vocie: unknown key (did you mean 'voice'?)",
    ]


def test_check_config_says_ok_or_lists_problems(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert check_config(ROOT / "firmware_config/examples/clinic.yaml", out, err) == 0
    assert "OK" in out.getvalue() and err.getvalue() == ""
    bad = tmp_path / "bad.yaml"
    bad.write_text("realtime:\n  voice: robot\n")
    out, err = io.StringIO(), io.StringIO()
    assert check_config(bad, out, err) == 2
    assert err.getvalue().startswith(f"{bad}:2: realtime.voice:")


def test_defaults_are_sane() -> None:
    s = Settings()
    assert isinstance(s.realtime.turn_detection, ServerVad)
    assert isinstance(s.audio.input, PyAudioInput)
