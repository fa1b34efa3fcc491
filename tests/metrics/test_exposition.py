"""The exposition: the text a scrape gets is Prometheus' text format 0.0.4 (read back by
prometheus_client's own parser, and written exactly as prometheus_client writes the same
families), and it holds what the collector holds (fast, no daemon)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Metric, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from device.conversation.reports import (
    ConversationEnded,
    ConversationStarted,
    CostReported,
    FirstAudio,
    HandedOver,
    Interrupted,
    LimitReached,
    Outcome,
    PromptPlayed,
    ReplyPaused,
    Report,
    StateChanged,
    ToolReported,
    TranscriptionUsed,
    TurnEnded,
    UsageReported,
    VisitorRefused,
)
from device.conversation.state import State
from device.metrics.collector import Collector, Histogram
from device.metrics.exposition import CONTENT_TYPE, go_float
from device.metrics.service import MetricsService
from device.metrics.settings import MetricsSettings
from device.realtime.events import TranscriptionUsage, Usage
from device.services.ports import Stats

ROOT = Path(__file__).resolve().parents[2]
INFO = {"device": 'kiosk "7" \\ east', "site": "Main St\nclinic ü", "model": "gpt-realtime-2.1"}
USAGE = Usage(1200, 300, 900, 300, 800, 250, 50, 600, 200)
Key = tuple[str, frozenset[tuple[str, str]]]


def busy_service(daily_budget: float | None = 20.0) -> MetricsService:
    """A service that has seen a little of everything (odd label values too)."""
    service = MetricsService(MetricsSettings(), chunk_ms=40.0, info=INFO, daily_budget=daily_budget)
    cost = Decimal("0.0306")
    reports: list[Report] = [
        StateChanged(State.IDLE, State.OFFLINE),
        StateChanged(State.OFFLINE, State.IDLE),
        ConversationStarted("conv-1", "wake word"),
        TurnEnded(1),
        FirstAudio(640.0),
        FirstAudio(7200.0),
        ToolReported("faq", "{}", True, 35.0, "", "continue"),
        ToolReported('odd "tool" \\', "{}", False, 3000.0, "", "continue"),
        Interrupted("local speech detection", 1, "item", 900),
        Interrupted("server", 2, None, None),
        ReplyPaused(300.0, False),
        PromptPlayed("filler", 900.0),
        UsageReported("r1", "completed", None, USAGE),
        UsageReported("r2", "cancelled", None, Usage(output_tokens=12_345_678)),
        CostReported("conv-1", "r1", "gpt-realtime-2.1", cost, cost, "2025-06-01", cost),
        TranscriptionUsed(TranscriptionUsage(10, 3, 8, 2, 1.5)),
        StateChanged(State.LISTENING, State.RECONNECTING),
        LimitReached("conversation", cost, cost),
        HandedOver("escalate", "cost_limit"),
        ConversationEnded("bye", None, Outcome.HANDED_OVER),
        VisitorRefused("daily_budget", "button"),
    ]
    for i, report in enumerate(reports):
        service.report(i * 1000.0, report)
    service.collector.stats(
        Stats(state="idle", audio_sent_chunks=1_234_567, reply_audio_ms=2400.0, audio_dropped=3)
    )
    return service


def expected(c: Collector, now_ms: float, daily_budget: float | None) -> dict[Key, float]:
    """Every sample the collector's figures make, written out here by hand."""
    out: dict[Key, float] = {}

    def put(name: str, value: float, **labels: str) -> None:
        out[("voice_kiosk_" + name, frozenset(labels.items()))] = float(value)

    def histogram(name: str, h: Histogram, **labels: str) -> None:
        total = 0
        for bound, n in zip((*h.buckets, math.inf), h.counts, strict=True):
            total += n
            le = "+Inf" if bound == math.inf else str(bound)
            put(name + "_bucket", total, le=le, **labels)
        put(name + "_count", h.count, **labels)
        put(name + "_sum", h.sum, **labels)

    put("device_info", 1, **INFO)
    histogram("first_audio_seconds", c.first_audio)
    for (tool, outcome), n in c.tool_calls.items():
        put("tool_calls_total", n, tool=tool, outcome=outcome)
    for tool, h in c.tool_seconds.items():
        histogram("tool_call_seconds", h, tool=tool)
    for name, label, counts in (
        ("barge_ins_total", "source", c.barge_ins),
        ("handovers_total", "reason", c.handovers),
        ("conversations_started_total", "source", c.started),
        ("conversations_total", "outcome", c.ended),
        ("offline_seconds_total", "state", c.offline_seconds(now_ms)),
        ("prompts_played_total", "prompt", c.prompts),
        ("responses_total", "status", c.responses),
        ("tokens_total", "kind", c.tokens),
        ("transcription_tokens_total", "kind", c.transcription_tokens),
        ("cost_dollars_total", "model", {m: float(v) for m, v in c.cost.items()}),
        ("cost_limits_total", "scope", c.limits),
        ("visitors_refused_total", "reason", c.refused),
    ):
        for value, count in counts.items():
            put(name, count, **{label: value})
    put("reply_pauses_resumed_total", c.pauses_resumed)
    histogram("conversation_seconds", c.conversation_seconds)
    put("reconnects_total", c.reconnects)
    assert c.latest is not None
    put("audio_in_seconds_total", c.latest.audio_sent_chunks * 0.04)
    put("audio_out_seconds_total", c.latest.reply_audio_ms / 1000)
    put("audio_dropped_seconds_total", c.latest.audio_dropped * 0.04)
    put("transcription_audio_seconds_total", c.transcription_seconds)
    histogram("conversation_cost_dollars", c.conversation_cost)
    put("spent_today_dollars", float(c.day_cost))
    if daily_budget is not None:
        put("daily_budget_dollars", daily_budget)
    return out


def parsed(text: str) -> dict[str, tuple[str, str, dict[Key, float]]]:
    """Family name: (type, help, samples), by prometheus_client's parser."""
    return {
        fam.name: (
            fam.type,
            fam.documentation,
            {(s.name, frozenset(s.labels.items())): s.value for s in fam.samples},
        )
        for fam in text_string_to_metric_families(text)
    }


def test_the_text_parses_and_holds_what_the_collector_holds() -> None:
    service = busy_service()
    service._clock = (30_000.0, time.monotonic())  # the offline stretch is counted to now
    text = service.scrape().decode()
    families = parsed(text)
    samples = {k: v for _, _, s in families.values() for k, v in s.items()}
    want = expected(service.collector, service._now_ms(), 20.0)
    offline = [k for k in want if k[0] == "voice_kiosk_offline_seconds_total"]
    for key in offline:  # it counts up to the scrape: read a moment apart
        assert samples.pop(key) == pytest.approx(want.pop(key), abs=1.0)
    assert samples == want
    # odd label values come back as they were (escaped in the text)
    assert ("voice_kiosk_device_info", frozenset(INFO.items())) in want
    assert 'site="Main St\\nclinic ü"' in text and 'tool="odd \\"tool\\" \\\\"' in text
    # each family's type and help
    kinds = {name: kind for name, (kind, _, _) in families.items()}
    assert kinds["voice_kiosk_tokens"] == "counter"
    assert kinds["voice_kiosk_first_audio_seconds"] == "histogram"
    assert kinds["voice_kiosk_spent_today_dollars"] == "gauge"
    assert all(doc for _, doc, _ in families.values())
    # samples in a steady order, as before: by label value (tokens: not as counted), tool
    # calls by tool then outcome
    for fam in text_string_to_metric_families(text):
        if fam.type == "counter":
            order = ("tool", "outcome") if fam.name.endswith("tool_calls") else ()
            values = [
                tuple(s.labels[k] for k in order) or tuple(s.labels.values()) for s in fam.samples
            ]
            assert values == sorted(values), fam.name
    assert len(re.findall(r"^# TYPE ", text, re.M)) == len(families) == 26


class Parsed:
    """A prometheus_client collector of the families parsed from a text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def collect(self) -> Iterable[Metric]:
        return text_string_to_metric_families(self.text)


def test_the_text_is_written_as_prometheus_client_writes_it() -> None:
    """Read back and written again by prometheus_client's ``generate_latest``: the same
    bytes (HELP and TYPE lines, the order of the samples, label escaping, the values)."""
    fresh = MetricsService(MetricsSettings(), chunk_ms=40.0)
    for service in (busy_service(), busy_service(None), fresh):
        text = service.scrape()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(Parsed(text.decode()))
        assert generate_latest(registry) == text


def test_every_metric_of_the_docs_is_served() -> None:
    table = (ROOT / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)`", table, re.M))
    served = {
        name.removeprefix("voice_kiosk_") + ("_total" if kind == "counter" else "")
        for name, (kind, _, _) in parsed(busy_service().scrape().decode()).items()
    }
    assert served == documented


@pytest.mark.parametrize(
    "value",
    [0, 1, 0.1 + 0.2, 1e-7, 123456.0, 1234567.0, 12345678.9, 1e22, -5.5, math.inf, -math.inf,
     math.nan, 0.0025, float(Decimal("0.0306"))],
)  # fmt: skip
def test_values_are_written_as_go_writes_them(value: float) -> None:
    assert go_float(value) == floatToGoString(value)


def test_a_fresh_service_serves_zeros_and_the_content_type() -> None:
    text = MetricsService(MetricsSettings(), chunk_ms=40.0).scrape().decode()
    assert "voice_kiosk_first_audio_seconds_count 0.0\n" in text
    assert "voice_kiosk_device_info 1.0\n" in text  # no info given: no labels
    assert "audio_in_seconds" not in text  # no stats() yet
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"
