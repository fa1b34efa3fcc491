"""check-config tells the truth (issue 12): every broken file of the list is one line naming
the key, exit 2; hostile files are answered at once; secrets are never echoed."""

from __future__ import annotations

import io
import logging
import os
import re
import time
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from device.config.loader import check_config
from device.prompts import PACKAGED_PROMPTS

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = PACKAGED_PROMPTS
SECRET = "sk-proj-TESTSECRET0123456789"

HTTP = (
    "tools:\n"
    "  allow_hosts: [jobs.example.com]\n"
    "  items:\n"
    "    - kind: http\n"
    "      name: job\n"
    "      description: Look up a job.\n"
)
JOB_SCHEMA = (
    "      parameters:\n        type: object\n        properties: {job_id: {type: string}}\n"
)


def laughs(at: str) -> str:
    """Nine anchors of nine aliases each, expanded at ``at`` (9**9 nodes)."""
    lines = ["x-0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        lines.append(f"x-{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n" + at + "\n"


def header(name: str, value: str) -> str:
    return (
        HTTP
        + "      url: https://jobs.example.com/jobs\n"
        + (f"      headers:\n        - name: {name}\n          value: {value}\n")
    )


def wav8(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(16000)
        w.writeframes(b"\x80" * 1600)
    return path


def fifo(tmp: Path) -> Path:
    path = tmp / "pipe.yaml"
    os.mkfifo(path)
    return path


def five_mb(tmp: Path) -> Path:
    path = tmp / "big.yaml"
    path.write_text("tools:\n  allow_hosts:\n" + "    - host.example.com\n" * 250_000)
    return path


Make = Callable[[Path], Path]

# (id, the file: YAML text or a maker, the expected line after FILE:)
CASES: list[tuple[str, str | Make, str]] = [
    # tracebacks
    ("ipv6-url", HTTP + "      url: https://[::1/x\n", r"7: tools.items\[0\].url: not a valid URL"),
    ("float-tag", "realtime:\n  speed: !!float fast\n", r"2: realtime.speed: must be a number"),
    (
        "int-tag",
        "audio:\n  upload_chunk_ms: !!int forty\n",
        r"2: audio.upload_chunk_ms: must be a whole",
    ),
    (
        "bool-tag",
        "logging:\n  timeline: !!bool maybe\n",
        r"2: logging.timeline: must be true or false",
    ),
    ("lists-100", "device:\n  site: " + "[" * 100 + "]" * 100 + "\n", r"2: nested more than 64"),
    ("lists-1000", "device:\n  site: " + "[" * 1000 + "]" * 1000 + "\n", r"2: .*nest"),
    (
        "maps-1000",
        "".join(" " * i + f"k{i}:\n" for i in range(1000)),
        r"\d+: nested more than 64 levels deep",
    ),
    ("dev-zero", lambda _tmp: Path("/dev/zero"), r" is a device, not a regular file"),
    # hangs
    ("laughs-instructions", laughs("realtime:\n  instructions: *a9"), r"\d+: aliases expand"),
    ("laughs-device", laughs("device: *a9"), r"\d+: aliases expand"),
    ("laughs-parameters", laughs(HTTP + "      parameters: *a9"), r"\d+: aliases expand"),
    ("fifo", fifo, r" is a named pipe, not a regular file"),
    ("recursive-alias", "device: &a {name: *a}\n", r"1: alias \*a is inside the node it names"),
    ("undefined-alias", "device: {name: *nowhere}\n", r"1: found undefined alias \*nowhere"),
    ("two-documents", "device: {}\n---\ndevice: {}\n", r"2: more than one YAML document"),
    ("folder", lambda tmp: tmp, r" is a folder, not a config file"),
    # slow
    ("five-mb", five_mb, r" larger than 1,000,000 bytes"),
    # secrets echoed
    (
        "secret-authorization",
        header("Authorization", f"[Bearer {SECRET}]"),
        r"10: .*value: must be text \(got a list, not shown",
    ),
    (
        "secret-x-api-key",
        header("X-Api-Key", f"[{SECRET}]"),
        r"10: .*value: must be text \(got a list",
    ),
    (
        "secret-proxy",
        header("Proxy-Authorization", f"[{SECRET}]"),
        r"10: .*value: must be text \(got a list",
    ),
    (
        "secret-cookie",
        header("Cookie", f"{{s: {SECRET}}}"),
        r"10: .*value: must be text \(got a mapping",
    ),
    (
        "secret-number",
        "realtime:\n  api_key: [1, 2]\n",
        r"2: realtime.api_key: secrets never go in YAML",
    ),
    (
        "secret-escalate",
        "tools:\n  allow_hosts: [h.example.com]\n  items:\n    - kind: escalate\n"
        "      webhook_url: https://h.example.com/x\n      headers:\n"
        f"        - name: Authorization\n          value: [Bearer {SECRET}]\n",
        r"8: tools.items\[0\].headers\[0\].value: must be text \(got a list",
    ),
    # accepted, though they cannot work
    ("blank-name", "device:\n  name: '  '\n", r"2: device.name: must not be blank"),
    ("blank-model", "realtime:\n  model: ''\n", r"2: realtime.model: must not be blank"),
    (
        "model-newline",
        'realtime:\n  model: "gpt\\nx"\n',
        r"2: realtime.model: must be a model name",
    ),
    ("name-newline", 'device:\n  name: "kiosk\\r\\nX: 1"\n', r"2: device.name: must be one line"),
    (
        "blank-description",
        HTTP.replace("Look up a job.", "' '") + "      url: https://jobs.example.com/x\n",
        r"6: tools.items\[0\].description: must not be blank",
    ),
    (
        "blank-tool-name",
        HTTP.replace("name: job", "name: ''") + "      url: https://jobs.example.com/x\n",
        r"5: tools.items\[0\].name: must be 1-64",
    ),
    ("url-empty", "realtime:\n  url: ''\n", r"2: realtime.url: must be a wss:// URL"),
    ("url-words", "realtime:\n  url: not a url\n", r"2: realtime.url: must not hold spaces"),
    ("url-ftp", "realtime:\n  url: ftp://h/x\n", r"2: realtime.url: must be a wss:// URL"),
    (
        "url-http",
        "realtime:\n  url: http://api.example.com/x\n",
        r"2: realtime.url: must be a wss://",
    ),
    ("url-https", "realtime:\n  url: https://\n", r"2: realtime.url: must be a wss://"),
    (
        "url-no-host",
        "realtime:\n  url: wss:///v1/realtime\n",
        r"2: realtime.url: the URL has no host",
    ),
    (
        "url-port",
        "realtime:\n  url: wss://api.openai.com:99999/x\n",
        r"2: realtime.url: not a valid URL",
    ),
    (
        "url-ws-remote",
        "realtime:\n  url: ws://api.openai.com/x\n",
        r"2: realtime.url: ws:// sends the API key in clear",
    ),
    (
        "header-space",
        header("'X Bad'", "x"),
        r"9: tools.items\[0\].headers\[0\].name: must be a header name",
    ),
    (
        "header-colon",
        header("'X-Bad:'", "x"),
        r"9: tools.items\[0\].headers\[0\].name: must be a header name",
    ),
    (
        "header-empty",
        header("''", "x"),
        r"9: tools.items\[0\].headers\[0\].name: must be a header name",
    ),
    (
        "header-newline",
        header("X-Note", '"a\\r\\nX-Evil: 1"'),
        r"10: tools.items\[0\].headers\[0\].value: must not hold control",
    ),
    (
        "placeholder-empty",
        HTTP + "      url: https://jobs.example.com/{}\n",
        r"7: tools.items\[0\].url: placeholders are \{name\}",
    ),
    (
        "placeholder-open",
        HTTP + JOB_SCHEMA + "      url: https://jobs.example.com/{job_id\n",
        r"10: tools.items\[0\].url: placeholders are",
    ),
    (
        "credential-in-url",
        HTTP + "      url: https://jobs.example.com/{credential:tok}\n",
        r"7: tools.items\[0\].url: credentials never go in a URL",
    ),
    (
        "tool-port",
        HTTP + "      url: https://jobs.example.com:70000/x\n",
        r"7: tools.items\[0\].url: not a valid URL",
    ),
    (
        "allow-star-dot",
        "tools:\n  allow_hosts: ['*.']\n",
        r"2: tools.allow_hosts\[0\]: must be a host name",
    ),
    (
        "schema-required",
        HTTP + JOB_SCHEMA + "        required: [job_ref]\n      url: https://jobs.example.com/x\n",
        r"10: tools.items\[0\].parameters.required: names 'job_ref'",
    ),
    (
        "schema-dangling-ref",
        HTTP + "      parameters:\n        type: object\n"
        "        properties: {a: {$ref: '#/$defs/none'}}\n"
        "      url: https://jobs.example.com/x\n",
        r"9: tools.items\[0\].parameters.properties.a.\$ref: must point inside",
    ),
    (
        "schema-remote-ref",
        HTTP + "      parameters:\n        type: object\n"
        "        properties: {a: {$ref: 'https://evil.example/s.json'}}\n"
        "      url: https://jobs.example.com/x\n",
        r"9: tools.items\[0\].parameters.properties.a.\$ref: must point inside",
    ),
    (
        "schema-nan",
        HTTP + "      parameters:\n        type: object\n"
        "        properties: {n: {type: number, maximum: .nan}}\n"
        "      url: https://jobs.example.com/x\n",
        r"9: tools.items\[0\].parameters.properties.n.maximum: must be a finite number",
    ),
    (
        "schema-invalid",
        HTTP + "      parameters:\n        type: object\n        properties: {n: {type: 12}}\n"
        "      url: https://jobs.example.com/x\n",
        r"7: tools.items\[0\].parameters: not a valid JSON schema",
    ),
    (
        "prompt-missing",
        "tools:\n  items:\n    - kind: end_session\n      prompt: nosuch\n",
        r"4: tools.items\[0\].prompt: no prompt nosuch.wav",
    ),
    (
        "chime-missing",
        "wake:\n  enabled: true\n  chime: nosuch\n",
        r"3: wake.chime: no prompt nosuch.wav",
    ),
    (
        "prompt-outside",
        "tools:\n  allow_hosts: [h.example.com]\n  items:\n    - kind: escalate\n"
        "      webhook_url: https://h.example.com/x\n      prompt: ../../etc/passwd\n",
        r"6: tools.items\[0\].prompt: must be the name of a prompt",
    ),
    (
        "confirm-words",
        "tools:\n  confirm_yes_words: [yes, stop]\n",
        r"2: tools.confirm_yes_words: 'stop' is in confirm_no_words",
    ),
    (
        "idle-over-max",
        "conversation:\n  idle_timeout_s: 900\n  max_duration_s: 600\n",
        r"2: conversation.idle_timeout_s: must not be above conversation.max_duration_s",
    ),
    (
        "prompts-missing",
        "conversation:\n  prompts_dir: nowhere\n",
        r"2: conversation.prompts_dir: no such folder",
    ),
    (
        "prompts-file",
        "conversation:\n  prompts_dir: /etc/hostname\n",
        r"2: conversation.prompts_dir: .* is a file",
    ),
    (
        "input-missing",
        "audio:\n  input: {type: file, path: none.wav}\n",
        r"2: audio.input.path: .*no such file",
    ),
    (
        "input-folder",
        "audio:\n  input: {type: file, path: /tmp}\n",
        r"2: audio.input.path: .*is a folder",
    ),
    (
        "input-8bit",
        lambda tmp: _wav_config(tmp),
        r"2: audio.input.path: .*must be 16-bit PCM \(got 8-bit\)",
    ),
    (
        "output-under-file",
        "audio:\n  output: {type: file, path: /etc/hostname/r.wav}\n",
        r"2: audio.output.path: cannot write there: /etc/hostname is a file",
    ),
    (
        "output-proc",
        "audio:\n  output: {type: file, path: /proc/x/r.wav}\n",
        r"2: audio.output.path: cannot write there: /proc",
    ),
    (
        "output-folder",
        "audio:\n  output: {type: file, path: /tmp}\n",
        r"2: audio.output.path: cannot write there: .*is a folder",
    ),
    ("audit-folder", "tools:\n  audit_log: /tmp\n", r"2: tools.audit_log: cannot write there"),
    (
        "audit-proc",
        "tools:\n  audit_log: /proc/v/a.jsonl\n",
        r"2: tools.audit_log: cannot write there: /proc",
    ),
    (
        "credentials-missing",
        "tools:\n  credential_dir: nowhere\n",
        r"2: tools.credential_dir: no such folder",
    ),
    (
        "credentials-file",
        "tools:\n  credential_dir: /etc/hostname\n",
        r"2: tools.credential_dir: .* is a file",
    ),
    (
        "key-file-open",
        lambda tmp: _key_config(tmp),
        r"2: realtime.api_key_file: .*mode 0644 is too open",
    ),
    (
        "language",
        "realtime:\n  transcription: {language: english}\n",
        r"2: realtime.transcription.language: must be an ISO-639-1",
    ),
    (
        "input-speed",
        "audio:\n  input: {type: file, path: x.wav, speed: 1e-300}\n",
        r"2: audio.input.speed: must be 0 or between 0.1 and 100",
    ),
    (
        "output-speed",
        "audio:\n  output: {type: file, path: r.wav, speed: 1e-300}\n",
        r"2: audio.output.speed: must be 0 or between",
    ),
    (
        "python-name",
        "device:\n  name: !!python/name:os.system\n",
        r"2: device.name: unsupported YAML tag !!python/name:os.system",
    ),
    (
        "python-object",
        "device: !!python/object:os.system {}\n",
        r"1: device: unsupported YAML tag !!python/object:os.system",
    ),
    # run failed on files check-config passed
    (
        "tail-silence",
        "audio:\n  input: {type: file, path: x.wav, tail_silence_ms: 1000000000000}\n",
        r"2: audio.input.tail_silence_ms: must be between 0 and 60000",
    ),
    (
        "retry-s",
        "audio:\n  input: {type: pyaudio, retry_s: 1e300}\n",
        r"2: audio.input.retry_s: must be between 0.5 and 3600",
    ),
    (
        "max-duration",
        "conversation:\n  max_duration_s: 1e308\n",
        r"2: conversation.max_duration_s: must be between 10 and 3600",
    ),
]


def _wav_config(tmp: Path) -> Path:
    wav8(tmp / "eight.wav")
    path = tmp / "kiosk.yaml"
    path.write_text("audio:\n  input: {type: file, path: eight.wav}\n")
    return path


def _key_config(tmp: Path) -> Path:
    key = tmp / "openai.key"
    key.write_text("sk-not-a-real-key\n")
    key.chmod(0o644)
    path = tmp / "kiosk.yaml"
    path.write_text("realtime:\n  api_key_file: openai.key\n")
    return path


def run_check(path: Path) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    code = check_config(path, out, err)
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - start


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder for configs, with the packaged prompts as its prompts/ and a WAV caller."""
    (tmp_path / "prompts").symlink_to(PROMPTS)
    (tmp_path / "x.wav").symlink_to(ROOT / "tools/demo_audio/question.wav")
    return tmp_path


@pytest.mark.parametrize(("case", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_broken_file_is_one_line_naming_the_key(
    site: Path, case: str, make: str | Make, expected: str
) -> None:
    if isinstance(make, str):
        path = site / "kiosk.yaml"
        path.write_text(make)
    else:
        path = make(site)
    code, out, err, seconds = run_check(path)
    assert code == 2, out
    lines = err.splitlines()
    assert any(re.match(re.escape(str(path)) + r"(:|\b)" + expected, line) for line in lines), lines
    assert all(line.startswith(f"{path}:") for line in lines), lines
    assert SECRET not in err and "Traceback" not in err
    assert seconds < 1.0, f"{case}: {seconds:.2f} s"


def test_the_cases_start_from_a_file_that_passes(site: Path) -> None:
    """The rows fail for their own reason: the same site with a sound file is OK."""
    path = site / "kiosk.yaml"
    path.write_text(
        HTTP + JOB_SCHEMA + "      url: https://jobs.example.com/jobs/{job_id}\n"
        "      headers:\n        - {name: Authorization, value: 'Bearer {credential:t}'}\n"
        "audio:\n  input: {type: file, path: x.wav, speed: 0}\n"
        "  output: {type: file, path: out/r.wav, speed: 0}\n"
    )
    code, out, err, _ = run_check(path)
    assert (code, err) == (0, "")
    assert out == f"{path}: OK (model gpt-realtime-2.1, input file, output file, 1 tool)\n"
    assert not (site / "out").exists()  # checking writes nothing


def test_software_echo_without_the_raw_mic_passes_with_a_note(site: Path) -> None:
    """A set-up that works but barges in slowly: OK, and one line saying what to set."""
    path = site / "kiosk.yaml"
    path.write_text("audio:\n  echo: {mode: software}\n")
    code, out, err, _ = run_check(path)
    assert (code, err) == (0, "")
    ok, note = out.splitlines()
    assert ok.startswith(f"{path}: OK ")
    assert note.startswith(f"{path}: note: audio.echo: mode software without raw_input")
    assert "echo.raw_input" in note
    path.write_text("audio:\n  echo: {mode: software, raw_input: kiosk_raw}\n")
    assert run_check(path)[1].count("\n") == 1  # with the raw mic: no note
    path.write_text("audio:\n  echo: {mode: software}\n  barge_in: {local_vad: false}\n")
    assert run_check(path)[1].count("\n") == 1  # no local detector: nothing slowed


def test_run_logs_the_same_note_as_a_warning(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    from device.cli.serve import warn_advice
    from device.config.loader import load_settings

    path = site / "kiosk.yaml"
    path.write_text("audio:\n  echo: {mode: software}\n")
    with caplog.at_level(logging.WARNING, logger="device"):
        warn_advice(load_settings(path))
    assert [r.getMessage() for r in caplog.records] == load_settings(path).audio.advice()
    assert len(caplog.records) == 1 and "raw_input" in caplog.records[0].getMessage()


def test_a_100_kb_valid_file_is_answered_within_a_second(site: Path) -> None:
    entries = "".join(
        f"        - keywords: [word{i}, other{i}]\n          answer: Answer {i} for the caller.\n"
        for i in range(1400)
    )
    path = site / "kiosk.yaml"
    path.write_text("tools:\n  items:\n    - kind: faq\n      entries:\n" + entries)
    assert path.stat().st_size > 100_000
    code, _, err, seconds = run_check(path)
    assert (code, err) == (0, "")
    assert seconds < 1.0


def test_many_problems_are_capped_with_a_count(site: Path) -> None:
    path = site / "kiosk.yaml"
    path.write_text("".join(f"unknown{i}: 1\n" for i in range(500)))
    code, _, err, _ = run_check(path)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 101
    assert lines[-1] == f"{path}: 400 more problems not shown"


@pytest.mark.slow
@pytest.mark.parametrize(
    "text",
    [
        "audio:\n  output: {type: file, path: /proc/x/r.wav}\n",
        "tools:\n  items:\n    - {kind: end_session, prompt: nosuch}\n",
        "realtime:\n  url: ws://api.openai.com/v1/realtime\n",
    ],
)
def test_run_refuses_what_check_config_refuses_before_any_device_or_network(
    site: Path, text: str
) -> None:
    """Same lines, exit 2, and no connection tried: the URL below would refuse at once."""
    import subprocess
    import sys

    path = site / "kiosk.yaml"
    path.write_text(text)
    expected = run_check(path)[2]
    env = dict(os.environ, OPENAI_API_KEY="sk-test-not-used")
    result = subprocess.run(
        [sys.executable, "-m", "device", "run", "--config", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == expected and expected.count("\n") >= 1
    assert result.stdout == ""  # no timeline: nothing started
