"""The emulator's pure parts: scenario validation and the energy VAD (no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tools.realtime_emulator import Scenario, ScenarioError
from tools.realtime_emulator.vad import EnergyVad, SpeechStart, SpeechStop, VadParams

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["demo", "tool_call", "two-turns", "faults"])
def test_the_example_scenarios_load(name: str) -> None:
    scenario = Scenario.load(ROOT / f"tools/scenarios/{name}.yaml")
    assert scenario.turns


def test_demo_looks_up_the_opening_hours_is_cut_short_then_hangs_up() -> None:
    first, cut_short, last = Scenario.load(ROOT / "tools/scenarios/demo.yaml").turns
    assert "opening hours" in first.user
    assert [c.name for c in first.tool_calls] == ["faq"] and first.replies
    assert "just the opening hours" in cut_short.user
    assert [c.name for c in last.tool_calls] == ["end_session"]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"turns": [{"reply": "hi"}]}, "turns[0]: missing key 'user'"),
        ({"turns": [{"user": "hi", "replly": "x"}]}, "turns[0]: unknown key 'replly'"),
        ({"turns": [{"user": "hi"}]}, "turns[0]: needs a 'reply' or a 'tool_call'"),
        ({"turns": "hello"}, "turns: expected a list"),
        ({"turns": [{"user": "q", "tool_call": {"arguments": {}}}]}, "turns[0].tool_call"),
        ({"turns": [{"user": "q", "reply": "a", "stall": -5}]}, "turns[0].stall"),
        ({"words_per_minute": 5}, "words_per_minute"),
        ({"faults": [{"error": {"code": "x"}}]}, "faults[0]: missing key 'after_ms'"),
        ([1, 2], "scenario: expected a mapping"),
    ],
)
def test_a_bad_scenario_names_the_key_and_the_problem(data: object, problem: str) -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data)
    assert problem in str(info.value)
    assert "\n" not in str(info.value)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("turns:\n  - user: hi\n    reply: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"line \d+: invalid YAML"):
        Scenario.load(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        Scenario.load(tmp_path / "missing.yaml")


def pcm(*parts: tuple[str, int]) -> bytes:
    out = b""
    for kind, ms in parts:
        n = ms * 24
        if kind == "tone":
            t = np.arange(n) / 24000
            out += (6000 * np.sin(2 * np.pi * 250 * t)).astype("<i2").tobytes()
        else:
            out += bytes(2 * n)
    return out


def test_vad_reports_padded_start_and_silence_delayed_stop_in_any_chunking() -> None:
    audio = pcm(("silence", 1000), ("tone", 500), ("silence", 200), ("tone", 300), ("silence", 900))
    for chunk in (7, 480, 960, 4800):  # bytes per feed: odd sizes split frames and samples
        vad = EnergyVad(VadParams(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500))
        found = []
        for i in range(0, len(audio), chunk):
            found += vad.feed(audio[i : i + chunk])
        # a 200 ms pause is shorter than the 500 ms window: one turn
        assert found == [SpeechStart(audio_start_ms=700), SpeechStop(audio_end_ms=2500)], chunk


def test_vad_threshold_ignores_quiet_noise_and_reset_sets_a_floor() -> None:
    rng = np.random.default_rng(1)
    noise = (rng.normal(0, 60, 24000)).astype("<i2").tobytes()  # about -55 dBFS
    vad = EnergyVad(VadParams(threshold=0.5))
    assert vad.feed(noise) == []
    vad.reset(floor_ms=1100)
    assert vad.feed(pcm(("tone", 200))) == [SpeechStart(audio_start_ms=1100)]
    assert vad.in_speech
