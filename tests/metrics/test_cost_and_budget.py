"""The price arithmetic (exact), the split of a usage into kinds of token, the ledger of the
day's spend and its file, the collector's figures and its exposition (fast, no daemon)."""

from __future__ import annotations

import os
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from device.conversation.reports import (
    ConversationEnded,
    ConversationStarted,
    CostReported,
    FirstAudio,
    Interrupted,
    Outcome,
    StateChanged,
    ToolReported,
    UsageReported,
)
from device.conversation.state import State
from device.metrics.budget import Ledger, ledger_path, load_ledger, local_day, save_ledger
from device.metrics.collector import Collector, barge_in_source
from device.metrics.cost import TokenPrices, Tokens, prices_for
from device.metrics.service import MetricsService
from device.metrics.settings import DEFAULT_PRICES, MetricsSettings
from device.realtime.events import Usage

FULL = TokenPrices.of("gpt-realtime-2.1", DEFAULT_PRICES["gpt-realtime-2.1"])
MINI = TokenPrices.of("gpt-realtime-2.1-mini", DEFAULT_PRICES["gpt-realtime-2.1-mini"])

USAGE = Usage(
    input_tokens=1000,
    output_tokens=300,
    input_text_tokens=400,
    input_audio_tokens=600,
    input_cached_tokens=500,
    input_cached_text_tokens=300,
    input_cached_audio_tokens=200,
    output_text_tokens=50,
    output_audio_tokens=250,
)


@pytest.mark.parametrize(
    ("usage", "tokens"),
    [
        (USAGE, Tokens(100, 300, 50, 400, 200, 250)),
        # cached without its split: text first, then audio
        (
            Usage(
                input_tokens=100,
                input_text_tokens=30,
                input_audio_tokens=70,
                input_cached_tokens=50,
            ),
            Tokens(0, 30, 0, 50, 20, 0),
        ),
        # tokens the details do not account for are audio (the dearer kind)
        (Usage(input_tokens=100, output_tokens=40), Tokens(audio_in=100, audio_out=40)),
        (Usage(), Tokens()),
    ],
)
def test_a_usage_splits_into_six_kinds(usage: Usage, tokens: Tokens) -> None:
    assert Tokens.of(usage) == tokens


def test_the_cost_is_exact_to_the_last_digit() -> None:
    # 100 x 4 + 300 x 0.40 + 50 x 24 + 400 x 32 + 200 x 0.40 + 250 x 64 = 30600 per 1M
    assert FULL.cost(USAGE) == Decimal("0.0306")
    # 100 x 0.6 + 300 x 0.06 + 50 x 2.4 + 400 x 10 + 200 x 0.3 + 250 x 20 = 9258 per 1M
    assert MINI.cost(USAGE) == Decimal("0.009258")
    assert FULL.cost(Usage()) == 0


def test_a_dated_model_takes_the_prices_of_the_longest_name_it_starts_with() -> None:
    m = MetricsSettings()
    assert prices_for(m, "gpt-realtime-2.1-mini-2025-12-01") == MINI
    assert prices_for(m, "gpt-realtime-2.1-2025-12-01") == FULL
    assert prices_for(m, "gpt-realtime-2.10") is None
    assert prices_for(m, "other") is None


def test_the_ledger_round_trips_and_keeps_two_months(tmp_path: Path) -> None:
    ledger = Ledger()
    assert ledger.record("2025-06-01", Decimal("1.25"))
    assert not ledger.record("2025-06-01", Decimal("1.25"))
    for day in range(1, 80):
        ledger.record(f"2025-{7 + day // 31:02d}-{day % 31 + 1:02d}", Decimal("0.5"))
    assert len(ledger.days) == 62
    path = tmp_path / "state" / "spend.json"
    save_ledger(path, ledger)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_ledger(path).days == ledger.days
    assert [p.name for p in path.parent.iterdir()] == ["spend.json"]  # no temporary left


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"days": {"x": "1"}}',
        '{"days": {"2025-06-01": "-1"}}',
        '{"days": {"2025-06-01": "NaN"}}',
        '{"days": {"2025-06-01": [1]}}',
    ],
)
def test_a_bad_ledger_file_counts_from_zero(tmp_path: Path, text: str) -> None:
    path = tmp_path / "spend.json"
    path.write_text(text)
    assert load_ledger(path).days == {}


def test_where_the_ledger_lives(tmp_path: Path) -> None:
    assert ledger_path(MetricsSettings(), {}) is None
    assert ledger_path(MetricsSettings(), {"STATE_DIRECTORY": "/var/lib/vk:/x"}) == Path(
        "/var/lib/vk/spend.json"
    )
    assert ledger_path(MetricsSettings(state_dir=tmp_path), {}) == tmp_path / "spend.json"


def test_the_local_day_follows_the_time_zone() -> None:
    import zoneinfo

    t = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
    assert local_day(t, zoneinfo.ZoneInfo("UTC")) == "2025-06-15"
    assert local_day(t, zoneinfo.ZoneInfo("Pacific/Kiritimati")) == "2025-06-16"  # UTC+14


def test_a_bad_time_zone_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="time_zone"):
        MetricsSettings(time_zone="Mars/Olympus")


@pytest.mark.parametrize(
    ("source", "label"),
    [
        ("the caller (server)", "server"),
        ("local speech detection", "local_detector"),
        ("wake word hey_jarvis", "wake_word"),
        ("button", "button"),
        ("something new", "other"),
    ],
)
def test_barge_in_sources(source: str, label: str) -> None:
    assert barge_in_source(source) == label


def test_the_collector_counts_reports_and_hands_back_the_visit() -> None:
    c = Collector()
    c.take(0.0, StateChanged(State.IDLE, State.OFFLINE))
    c.take(2000.0, StateChanged(State.OFFLINE, State.IDLE))
    c.take(2000.0, ConversationStarted("conv-1", "wake word hey_jarvis"))
    c.take(2600.0, FirstAudio(600.0))
    c.take(2700.0, ToolReported("faq", "{}", False, 120.0, "", "continue"))
    c.take(2800.0, Interrupted("the caller (server)", 1, "item", 300))
    c.take(3000.0, UsageReported("r1", "cancelled", None, USAGE))
    c.take(
        3000.0,
        CostReported(
            "conv-1",
            "r1",
            "gpt-realtime-2.1",
            Decimal("0.0306"),
            Decimal("0.0306"),
            "2025-06-01",
            Decimal("1.0306"),
        ),
    )
    visit = c.take(12_000.0, ConversationEnded("bye", None, Outcome.GOODBYE))
    assert visit is not None
    f = visit.fields()
    assert (f["outcome"], f["source"], f["seconds"], f["cost_usd"]) == (
        "goodbye",
        "wake_word",
        10.0,
        "0.030600",
    )
    assert (f["tool_failures"], f["barge_ins"], f["tokens_audio_out"]) == (1, 1, 250)
    assert c.offline_seconds(5000.0) == {"offline": 2.0, "reconnecting": 0.0}
    assert c.tokens["text_cached_in"] == 300
    assert c.responses == {"cancelled": 1}  # a cut reply's tokens are counted too
    text = MetricsService(MetricsSettings(), chunk_ms=40.0).scrape().decode()
    assert "voice_kiosk_first_audio_seconds_count 0.0" in text


def test_the_exposition_names_and_values() -> None:
    service = MetricsService(MetricsSettings(), chunk_ms=40.0, info={"device": "k"})
    service.report(0.0, ConversationStarted("conv-1", "button"))
    service.report(700.0, FirstAudio(700.0))
    service.report(800.0, ToolReported("faq", "{}", True, 30.0, "", "continue"))
    service.report(900.0, UsageReported("r1", "completed", None, USAGE))
    text = service.scrape().decode()
    for line in (
        'voice_kiosk_first_audio_seconds_bucket{le="0.75"} 1.0',
        'voice_kiosk_first_audio_seconds_bucket{le="0.5"} 0.0',
        'voice_kiosk_tool_calls_total{outcome="ok",tool="faq"} 1.0',
        'voice_kiosk_tool_call_seconds_count{tool="faq"} 1.0',
        'voice_kiosk_tokens_total{kind="audio_out"} 250.0',
        'voice_kiosk_conversations_started_total{source="button"} 1.0',
        'voice_kiosk_device_info{device="k"} 1.0',
    ):
        assert line in text, line
