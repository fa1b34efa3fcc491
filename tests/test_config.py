"""Config loading: every problem is one line FILE:LINE: key.path: what (got VALUE)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from device.audio.settings import FileInput, FileOutput, PyAudioInput, PyAudioOutput
from device.common.options import option
from device.config.loader import (
    ConfigError,
    _count_tools,
    apply_overrides,
    check_config,
    load_as,
    load_settings,
)
from device.config.settings import Settings
from device.realtime.settings import NoTurnDetection, SemanticVad, ServerVad

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "firmware_config/examples"
VOICES = "alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, cedar"


def write(tmp_path: Path, text: str, name: str = "kiosk.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    """The problems of a config, each checked to be one line starting FILE:LINE:."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    prefix = f"{path}:"
    for line in err.value.problems:
        assert line.startswith(prefix), line
        assert "\n" not in line and "Traceback" not in line
    return [line.removeprefix(prefix) for line in err.value.problems]


BAD = [
    # wrong type
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
        "audio:\n  upload_chunk_ms: '40'\n",
        "2: audio.upload_chunk_ms: must be a whole number (got '40')",
    ),
    (
        "logging:\n  timeline: yes please\n",
        "2: logging.timeline: must be true or false (got 'yes please')",
    ),
    ("device:\n  name: [a, b]\n", "2: device.name: must be text (got ['a', 'b'])"),
    ("realtime: [1, 2]\n", "1: realtime: must be a mapping of keys (got [1, 2])"),
    ("- 1\n", "1: (top level): must be a mapping of keys (got [1])"),
    ("realtime:\n  model:\n", "2: realtime.model: must not be empty: give text"),
    (
        "conversation:\n  idle_timeout_s: .nan\n",
        "2: conversation.idle_timeout_s: must be a finite number (got nan)",
    ),
    ("realtime:\n  voice: robot\n", f"2: realtime.voice: must be one of {VOICES} (got 'robot')"),
    (
        "realtime:\n  voice: [marin]\n",
        f"2: realtime.voice: must be one of {VOICES} (got ['marin'])",
    ),
    # out of range
    ("realtime:\n  speed: 9\n", "2: realtime.speed: must be between 0.25 and 1.5 (got 9)"),
    (
        "conversation:\n  idle_timeout_s: 0\n",
        "2: conversation.idle_timeout_s: must be between 1 and 3600 (got 0)",
    ),
    (
        "realtime:\n  turn_detection:\n    type: server_vad\n    threshold: 2\n",
        "4: realtime.turn_detection.threshold: must be between 0 and 1 (got 2)",
    ),
    (
        "realtime:\n  turn_detection:\n    idle_timeout_ms: 10\n",
        "2: realtime.turn_detection.type: required key is missing "
        "(one of server_vad, semantic_vad, none)",
    ),
    # unknown keys
    ("realtime:\n  voise: cedar\n", "2: realtime.voise: unknown key (did you mean 'voice'?)"),
    ("colour: red\n", "1: colour: unknown key"),
    ("tool:\n  slow_filler_ms: 1\n", "1: tool: unknown key (did you mean 'tools'?)"),
    ("logging:\n  Level: info\n", "2: logging.Level: unknown key (did you mean 'level'?)"),
    (
        "audio:\n  input:\n    type: pyaudio\n    path: q.wav\n",
        "4: audio.input.path: unknown key here (only type file has it)",
    ),
    # discriminators
    (
        "audio:\n  input:\n    type: mic\n",
        "3: audio.input.type: must be one of file, pyaudio (got 'mic')",
    ),
    (
        "audio:\n  input:\n    device: USB\n",
        "2: audio.input.type: required key is missing (one of file, pyaudio)",
    ),
    ("audio:\n  input:\n", "2: audio.input.type: required key is missing (one of file, pyaudio)"),
    # missing required key: reported at the section's key
    ("audio:\n  input:\n    type: file\n", "2: audio.input.path: required key is missing"),
    # a rule of the settings class itself: at the line of the key it names
    (
        "audio:\n  input:\n    type: pyaudio\n    channels: 2\n    channel: 2\n",
        "5: audio.input.channel: channel 2 does not exist: channels is 2 "
        "(channels are counted from 0) (got 2)",
    ),
    (
        "audio:\n  gate:\n    open_db: 0\n",
        "3: audio.gate.open_db: close_db 5.0 is above open_db 0.0: the gate would close "
        "while still over its open threshold (got 0)",
    ),
    (  # a rule naming no key of the file: at the section's line
        "wake:\n  models:\n    - threshold: 0.5\n",
        "3: wake.models[0]: give exactly one of name (a pre-trained model) or path (.onnx)",
    ),
    # YAML itself
    ("device:\n  name: !env NAME\n", "2: device.name: unsupported YAML tag !env"),
    (
        "realtime:\n  voice: marin\n  voice: cedar\n",
        "3: realtime.voice: duplicate key (first at line 2)",
    ),
    (
        "realtime:\n  voice: marin\n  speed: [1\n",
        "4: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 3)",
    ),
    (
        "realtime:\n  voice: marin\n   speed: 1\n",
        "3: invalid YAML: mapping values are not allowed here",
    ),
    (
        "realtime:\n\tvoice: marin\n",
        "2: invalid YAML: found character '\\t' that cannot start any token; "
        "indent with spaces, not tabs",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_each_problem_names_line_key_and_value(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


def test_all_problems_are_reported_at_once_in_file_order(tmp_path: Path) -> None:
    text = (
        "realtime:\n"  # 1
        "  voice: robot\n"  # 2
        "  api_key: sk-live-abcdef\n"  # 3
        "  speed: 3\n"  # 4
        "audio:\n"  # 5
        "  input:\n"  # 6
        "    type: file\n"  # 7
        "    pth: x.wav\n"  # 8
        "logging:\n"  # 9
        "  level: loud\n"  # 10
    )
    got = problems(tmp_path, text)
    assert [g.split(": ")[0:2] for g in got] == [
        ["2", "realtime.voice"],
        ["3", "realtime.api_key"],
        ["4", "realtime.speed"],
        ["6", "audio.input.path"],
        ["8", "audio.input.pth"],
        ["10", "logging.level"],
    ]
    assert got[4] == "8: audio.input.pth: unknown key (did you mean 'path'?)"
    assert "sk-live" not in "\n".join(got)


@pytest.mark.parametrize(
    "key",
    ["api_key", "OPENAI_API_KEY", "apiKey", "token", "password", "Authorization", "x-api-key"],
)
def test_secrets_in_yaml_are_refused_and_never_echoed(tmp_path: Path, key: str) -> None:
    got = problems(tmp_path, f"realtime:\n  {key}: sk-live-123456\n")
    assert got == [
        f"2: realtime.{key}: secrets never go in YAML: use a systemd credential, "
        "an environment variable or a 0600 key file (see README)"
    ]


def test_secrets_anywhere_are_never_echoed(tmp_path: Path) -> None:
    """Not even inside a value shown in another problem's (got ...)."""
    got = problems(tmp_path, "realtime: [{token: sk-live-999, n: 1}]\nx:\n  bearer: sk-live-2\n")
    text = "\n".join(got)
    assert "sk-live" not in text
    assert "1: realtime[0].token: secrets never go in YAML" in text
    assert "3: x.bearer: secrets never go in YAML" in text
    assert "1: realtime: must be a mapping of keys (got [{'token': '***', 'n': 1}])" in text


def test_keys_that_only_mention_a_secret_are_settings(tmp_path: Path) -> None:
    """api_key_file names a file; max_output_tokens is a number: neither is a secret."""
    path = write(tmp_path, "realtime:\n  api_key_file: keys/openai.key\n  max_output_tokens: 300\n")
    rt = load_settings(path).realtime
    assert rt.api_key_file == tmp_path / "keys/openai.key"
    assert rt.max_output_tokens == 300


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    for text in ("", "# only a comment\n", "---\n"):
        settings = load_settings(write(tmp_path, text))
        assert settings.realtime == Settings().realtime
        assert settings.audio == Settings().audio
        assert settings.conversation.prompts_dir is None  # the packaged prompts


def test_empty_section_gives_its_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "logging:\nrealtime:\n  transcription:\n"))
    assert settings.logging == Settings().logging
    assert settings.realtime.transcription == Settings().realtime.transcription


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = write(tmp_path, "audio:\n  input:\n    type: file\n    path: ../q.wav\n", "sub/k.yaml")
    inp = load_settings(path).audio.input
    assert isinstance(inp, FileInput) and inp.path == tmp_path / "q.wav"
    site = write(tmp_path, "conversation:\n  prompts_dir: prompts\n", "sub/site.yaml")
    assert load_settings(site).conversation.prompts_dir == tmp_path / "sub/prompts"


def test_absolute_and_home_paths_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "audio:\n  output:\n    type: file\n    path: ~/reply.wav\n")
    out = load_settings(path).audio.output
    assert isinstance(out, FileOutput) and out.path == Path.home() / "reply.wav"


def test_union_variants_are_chosen_by_type(tmp_path: Path) -> None:
    path = write(
        tmp_path, "realtime:\n  turn_detection:\n    type: semantic_vad\n    eagerness: low\n"
    )
    assert load_settings(path).realtime.turn_detection == SemanticVad(eagerness="low")
    path = write(tmp_path, "realtime:\n  turn_detection: {type: none}\n")
    assert load_settings(path).realtime.turn_detection == NoTurnDetection()


def test_yaml_words_mean_what_the_setting_expects(tmp_path: Path) -> None:
    """`off` is a choice, not false; `1.10` stays text; 1e3 is a number; ints are floats."""
    path = write(
        tmp_path,
        "realtime:\n  noise_reduction: off\n  transcription:\n    language: no\n"
        "device:\n  name: 1.10\nconversation:\n  max_duration_s: 1e3\n  idle_timeout_s: 15\n",
    )
    s = load_settings(path)
    assert s.realtime.noise_reduction == "off"
    assert s.realtime.transcription.language == "no"
    assert s.device.name == "1.10"
    assert s.conversation.max_duration_s == 1000.0
    assert s.conversation.idle_timeout_s == 15.0 and isinstance(
        s.conversation.idle_timeout_s, float
    )


def test_anchors_merges_and_x_keys(tmp_path: Path) -> None:
    text = (
        "x-card: &card\n  device: ReSpeaker\n  rate_hz: 48000\n"
        "audio:\n  input:\n    <<: *card\n    type: pyaudio\n"
        "  output:\n    <<: *card\n    type: pyaudio\n"
    )
    s = load_settings(write(tmp_path, text))
    assert isinstance(s.audio.input, PyAudioInput)
    assert (s.audio.input.device, s.audio.input.rate_hz) == ("ReSpeaker", 48000)
    assert isinstance(s.audio.output, PyAudioOutput) and s.audio.output.device == "ReSpeaker"


def test_missing_and_unreadable_files_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "nope.yaml")
    assert err.value.problems == [f"{tmp_path / 'nope.yaml'}: no such config file"]
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert err.value.problems == [f"{tmp_path}: is a folder, not a config file"]
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError) as err:
        load_settings(binary)
    assert err.value.problems == [f"{binary}: cannot read: not UTF-8 text"]


def test_unreadable_file_is_one_line(tmp_path: Path) -> None:
    locked = write(tmp_path, "device: {}\n", "locked.yaml")
    locked.chmod(0)
    if os.getuid() != 0:
        with pytest.raises(ConfigError) as err:
            load_settings(locked)
        assert err.value.problems == [f"{locked}: cannot read: Permission denied"]
        return
    # root reads any file: check it without the capabilities that override file modes
    # (setpriv is in util-linux, on every Debian)
    drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    result = subprocess.run(
        [*drop, sys.executable, "-m", "device", "check-config", str(locked)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == f"{locked}: cannot read: Permission denied\n"


@pytest.mark.parametrize("name", ["demo", "clinic", "shop", "field-tech"])
def test_every_example_loads(name: str) -> None:
    settings = load_settings(EXAMPLES / f"{name}.yaml")
    assert settings.conversation.prompts_dir is None  # the packaged prompts


def test_demo_example_runs_from_files_against_the_local_emulator() -> None:
    s = load_settings(EXAMPLES / "demo.yaml")
    assert isinstance(s.audio.input, FileInput) and isinstance(s.audio.output, FileOutput)
    assert s.audio.input.path == ROOT / "tools/demo_audio/demo-conversation.wav"
    assert s.audio.output.path == ROOT / "demo-output/reply.wav"
    assert s.realtime.url.startswith("ws://127.0.0.1:")
    # the caller's wake phrase starts the conversation, as on a kiosk
    assert s.conversation.start == "on_signal" and s.wake.enabled


def test_overrides_are_validated_like_the_file(tmp_path: Path) -> None:
    settings = load_settings(EXAMPLES / "demo.yaml")
    changed = apply_overrides(
        settings,
        {
            "realtime.url": "ws://127.0.0.1:1/x",
            "audio.input.speed": "0",
            "realtime.turn_detection": "{type: semantic_vad, eagerness: high}",
        },
    )
    assert changed.realtime.url == "ws://127.0.0.1:1/x"
    assert isinstance(changed.audio.input, FileInput) and changed.audio.input.speed == 0
    assert changed.realtime.turn_detection == SemanticVad(eagerness="high")
    assert changed.realtime.voice == settings.realtime.voice  # the rest is untouched
    assert settings.realtime.url != changed.realtime.url  # frozen: the original is intact


def test_override_paths_are_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    changed = apply_overrides(Settings(), {"audio.input": "{type: file, path: q.wav}"})
    assert changed.audio.input == FileInput(path=tmp_path / "q.wav")


def test_bad_overrides_list_every_problem() -> None:
    with pytest.raises(ConfigError) as err:
        apply_overrides(
            Settings(),
            {
                "realtime.speed": "7",
                "realtime.vocie": "x",
                "audio.input.type": "file",
                "audio.input": "{type: file, pth: q.wav}",
                "realtime.api_key": "sk-live-5",
                "device.name.first": "x",
                "realtime.url": "[oops",
                "audio.input.channel": "3",
            },
        )
    assert err.value.problems == [
        "--set realtime.speed: must be between 0.25 and 1.5 (got 7)",
        "--set realtime.vocie: unknown key (did you mean 'voice'?)",
        "--set audio.input.type: set the whole section to change its type: "
        "--set 'audio.input={...}'",
        "--set audio.input.pth: unknown key (did you mean 'path'?)",
        "--set audio.input.path: required key is missing",
        "--set realtime.api_key: secrets never go in YAML: use a systemd credential, "
        "an environment variable or a 0600 key file (see README)",
        "--set device.name.first: 'name' has no keys below it",
        "--set realtime.url: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 1)",
        "--set audio.input.channel: channel 3 does not exist: channels is 1 "
        "(channels are counted from 0)",
    ]
    assert "sk-live" not in str(err.value)


def test_check_config_says_ok_or_lists_problems(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    clinic = EXAMPLES / "clinic.yaml"
    assert check_config(clinic, out, err) == 0
    assert out.getvalue() == (
        f"{clinic}: OK (model gpt-realtime-2.1, input pyaudio, output pyaudio, 3 tools)\n"
    )
    assert err.getvalue() == ""
    bad = write(tmp_path, "realtime:\n  voice: robot\n  speed: 0\n")
    out, err = io.StringIO(), io.StringIO()
    assert check_config(bad, out, err) == 2
    assert out.getvalue() == ""
    assert err.getvalue().splitlines() == [
        f"{bad}:2: realtime.voice: must be one of {VOICES} (got 'robot')",
        f"{bad}:3: realtime.speed: must be between 0.25 and 1.5 (got 0)",
    ]


def test_defaults_are_sane() -> None:
    s = Settings()
    assert isinstance(s.realtime.turn_detection, ServerVad)
    assert isinstance(s.audio.input, PyAudioInput)
    assert s.realtime.api_key_file is None


# -- the generic loader, on a tree using every supported type ---------------------------


@dataclass(frozen=True, kw_only=True)
class _Http:
    kind: Literal["http"] = option("http", doc="An HTTP tool.")
    url: str = option(doc="Endpoint.")
    timeout_s: float = option(5.0, doc="Timeout.", min=0.1, max=60)
    headers: dict[str, str] = option({}, doc="Extra headers.")


@dataclass(frozen=True, kw_only=True)
class _Clock:
    kind: Literal["clock"] = option("clock", doc="Tells the time.")
    zone: str = option("UTC", doc="Time zone.")


@dataclass(frozen=True, kw_only=True)
class _Tools:
    items: tuple[_Http | _Clock, ...] = option((), doc="Tools.")
    ports: tuple[int, ...] = option((), doc="Ports.", min=1, max=65535)
    retries: int | str = option(0, doc="A count or 'auto'.")
    limits: dict[str, int] = option({}, doc="Per-tool limits.", min=0)
    cache: Path | None = option(Path("cache"), doc="Cache folder.")


@dataclass(frozen=True, kw_only=True)
class _Root:
    tools: _Tools = option(_Tools(), doc="Tools.")


def test_generic_loader_builds_every_supported_type(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "tools:\n"
        "  items:\n"
        "    - {kind: clock}\n"
        "    - kind: http\n"
        "      url: http://127.0.0.1:9/job\n"
        "      timeout_s: 2\n"
        "      headers: {Accept: application/json}\n"
        "  ports: [80, 443]\n"
        "  retries: auto\n"
        "  limits: {job: 3}\n",
    )
    tools = load_as(_Root, path).tools
    assert tools.items == (
        _Clock(),
        _Http(url="http://127.0.0.1:9/job", timeout_s=2.0, headers={"Accept": "application/json"}),
    )
    assert tools.ports == (80, 443) and tools.retries == "auto" and tools.limits == {"job": 3}
    assert tools.cache == tmp_path / "cache"
    assert load_as(_Root, write(tmp_path, "tools:\n  cache: null\n")).tools.cache is None


def test_generic_loader_names_list_items_and_mapping_entries(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "tools:\n"  # 1
        "  items:\n"  # 2
        "    - {kind: clock}\n"  # 3
        "    - {kind: clock, zon: x}\n"  # 4
        "    - kind: http\n"  # 5
        "      url: [x]\n"  # 6
        "      headers:\n"  # 7
        "        Authorization: Bearer sk-live-77\n"  # 8
        "    - {kind: ftp}\n"  # 9
        "    - {url: x}\n"  # 10
        "  ports: [80, 0, http]\n"  # 11
        "  limits: {job: -1}\n"  # 12
        "  retries: [1]\n",  # 13
    )
    with pytest.raises(ConfigError) as err:
        load_as(_Root, path)
    assert [p.removeprefix(f"{path}:") for p in err.value.problems] == [
        "4: tools.items[1].zon: unknown key (did you mean 'zone'?)",
        "6: tools.items[2].url: must be text (got ['x'])",
        "8: tools.items[2].headers.Authorization: secrets never go in YAML: use a systemd "
        "credential, an environment variable or a 0600 key file (see README)",
        "9: tools.items[3].kind: must be one of http, clock (got 'ftp')",
        "10: tools.items[4].kind: required key is missing (one of http, clock)",
        "11: tools.ports[1]: must be between 1 and 65535 (got 0)",
        "11: tools.ports[2]: must be a whole number (got 'http')",
        "12: tools.limits.job: must be >= 0 (got -1)",
        "13: tools.retries: must be a whole number or text (got [1])",
    ]
    assert "sk-live" not in str(err.value)


def test_check_config_counts_tools() -> None:
    assert _count_tools(_Tools(items=(_Clock(), _Http(url="x")), ports=(1, 2))) == 2


def test_gate_hangover_must_outlast_the_server_silence_window(tmp_path: Path) -> None:
    """Otherwise the gate closes first, the server hears no more audio and never ends the turn."""
    text = (
        "realtime:\n  turn_detection:\n    type: server_vad\n    silence_duration_ms: 900\n"
        "audio:\n  gate:\n    hangover_ms: 800\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert err.value.problems == [
        f"{path}:7: audio.gate.hangover_ms: must be at least realtime.turn_detection."
        "silence_duration_ms + 200 = 1100, or the gate stops the audio before the server "
        "hears the caller's turn end (got 800)"
    ]
    # a gate that is off, or turn detection by meaning, has no such window to outlast
    load_settings(write(tmp_path, text + "    enabled: false\n"))
    load_settings(write(tmp_path, "realtime:\n  turn_detection: {type: semantic_vad}\n"))


# -- modules by job ---------------------------------------------------------------------------


def test_loading_settings_imports_no_asyncio_httpx_or_jsonschema() -> None:
    """In a fresh interpreter: the loader stays light (a Pi Zero starts check-config fast)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import device.config.loader\n"
        f"for name in ('field-tech', 'clinic', 'shop', 'demo'):\n"
        f"    device.config.loader.load_settings(Path({str(EXAMPLES)!r}) / f'{{name}}.yaml')\n"
        "heavy = sorted(m for m in ('asyncio', 'httpx', 'jsonschema') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_nothing_under_device_tools_imports_the_config_loader() -> None:
    import ast

    importers = []
    for path in sorted((ROOT / "device/tools").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(
                n == "device.config.loader" or n.startswith("device.config.loader.") for n in names
            ):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == []
