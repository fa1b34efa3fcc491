"""The collector's figures as Prometheus metric families (prometheus_client's custom
collector: figures are read at scrape time, nothing is updated per report but plain
numbers). docs/metrics.md lists them with what each means."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector as PromCollector

from device.metrics.collector import Collector, Histogram

P = "voice_kiosk_"


def _histogram(name: str, doc: str, h: Histogram, labels: list[str] | None = None,
               values: list[str] | None = None, family: HistogramMetricFamily | None = None,
               ) -> HistogramMetricFamily:  # fmt: skip
    fam = family or HistogramMetricFamily(P + name, doc, labels=labels)
    fam.add_metric(values or [], h.cumulative(), h.sum)
    return fam


def _counter(name: str, doc: str, label: str, counts: Mapping[str, float]) -> CounterMetricFamily:
    fam = CounterMetricFamily(P + name, doc, labels=[label])
    for value, n in sorted(counts.items()):
        fam.add_metric([value], n)
    return fam


class Exposition(PromCollector):
    """Reads ``collector`` under ``lock`` at each scrape (the HTTP server's thread)."""

    def __init__(
        self,
        collector: Collector,
        *,
        lock: object,
        now_ms: Callable[[], float],
        chunk_ms: float,
        info: dict[str, str],
        daily_budget: float | None,
    ) -> None:
        self.c = collector
        self.lock = lock
        self.now_ms = now_ms
        self.chunk_ms = chunk_ms
        self.info = info
        self.daily_budget = daily_budget

    def collect(self) -> Iterator[Metric]:
        with self.lock:  # type: ignore[attr-defined]
            return iter(list(self._families()))

    def _families(self) -> Iterator[Metric]:
        c = self.c
        info = GaugeMetricFamily(
            P + "device_info", "This device: its name, site and Realtime model (always 1).",
            labels=sorted(self.info),
        )  # fmt: skip
        info.add_metric([self.info[k] for k in sorted(self.info)], 1)
        yield info
        yield _histogram(
            "first_audio_seconds",
            "From the end of the caller's speech to the first reply audio, per turn.",
            c.first_audio,
        )
        calls = CounterMetricFamily(
            P + "tool_calls", "Tool calls by tool and outcome (ok, failed).",
            labels=["tool", "outcome"],
        )  # fmt: skip
        for (tool, outcome), n in sorted(c.tool_calls.items()):
            calls.add_metric([tool, outcome], n)
        yield calls
        seconds = HistogramMetricFamily(
            P + "tool_call_seconds", "How long each tool call took, by tool.", labels=["tool"]
        )
        for tool, h in sorted(c.tool_seconds.items()):
            _histogram("", "", h, values=[tool], family=seconds)
        yield seconds
        yield _counter(
            "barge_ins",
            "Replies cut short by the caller, by who noticed: local_detector, server, "
            "button, wake_word.",
            "source",
            dict(c.barge_ins),
        )
        pauses = CounterMetricFamily(
            P + "reply_pauses_resumed",
            "Replies paused on a suspected caller that went on (nobody was confirmed).",
        )
        pauses.add_metric([], c.pauses_resumed)
        yield pauses
        yield _counter(
            "handovers",
            "Hand-overs to a human, by reason: model (the model called the tool), "
            "cost_limit (the device did, at a cost limit).",
            "reason",
            dict(c.handovers),
        )
        yield _counter(
            "conversations_started",
            "Conversations started, by source: wake_word, button, signal, start_up.",
            "source",
            dict(c.started),
        )
        yield _counter(
            "conversations",
            "Conversations ended, by outcome (goodbye, handed_over, nobody_spoke, "
            "timed_out, offline, busy, failed, muted, over_budget, ...).",
            "outcome",
            dict(c.ended),
        )
        yield _histogram(
            "conversation_seconds", "How long each conversation lasted.", c.conversation_seconds
        )
        reconnects = CounterMetricFamily(
            P + "reconnects", "Sessions lost mid-conversation and opened again."
        )
        reconnects.add_metric([], c.reconnects)
        yield reconnects
        yield _counter(
            "offline_seconds",
            "Time without a link: offline (idle, the offline prompts serve) and "
            "reconnecting (mid-conversation).",
            "state",
            c.offline_seconds(self.now_ms()),
        )
        yield _counter("prompts_played", "Canned prompts played, by name.", "prompt", c.prompts)
        s = c.latest
        chunk_s = self.chunk_ms / 1000.0
        audio = (
            ("audio_in_seconds", "Caller audio uploaded.", s.audio_sent_chunks * chunk_s),
            ("audio_out_seconds", "Reply audio handed to the speaker.", s.reply_audio_ms / 1e3),
            ("audio_dropped_seconds", "Caller audio dropped.", s.audio_dropped * chunk_s),
        ) if s else ()  # fmt: skip
        for name, doc, value in audio:
            fam = CounterMetricFamily(P + name, doc)
            fam.add_metric([], value)
            yield fam
        yield _counter(
            "responses", "Model responses, by status (completed, cancelled, ...).", "status",
            dict(c.responses),
        )  # fmt: skip
        yield _counter(
            "tokens",
            "Tokens billed (response.done usage, cancelled replies too), by kind: text_in, "
            "text_cached_in, text_out, audio_in, audio_cached_in, audio_out.",
            "kind",
            dict(c.tokens),
        )
        yield _counter(
            "transcription_tokens",
            "Tokens the caller's transcription used, by kind: audio_in, text_in, out.",
            "kind",
            dict(c.transcription_tokens),
        )
        trans = CounterMetricFamily(
            P + "transcription_audio_seconds",
            "Audio transcribed, for a transcription model billed by duration.",
        )
        trans.add_metric([], c.transcription_seconds)
        yield trans
        yield _counter(
            "cost_dollars",
            "Estimated cost in US dollars (tokens x metrics.prices), by model.",
            "model",
            {model: float(v) for model, v in c.cost.items()},
        )
        yield _histogram(
            "conversation_cost_dollars", "Estimated cost of each conversation.", c.conversation_cost
        )
        yield _counter(
            "cost_limits", "Conversations stopped by a cost limit, by scope: conversation, day.",
            "scope", dict(c.limits),
        )  # fmt: skip
        yield _counter(
            "visitors_refused", "Visitors not served, by reason: daily_budget.", "reason",
            dict(c.refused),
        )  # fmt: skip
        today = GaugeMetricFamily(
            P + "spent_today_dollars", "Estimated cost of the local day so far (every visitor)."
        )
        today.add_metric([], float(c.day_cost))
        yield today
        if self.daily_budget is not None:
            budget = GaugeMetricFamily(
                P + "daily_budget_dollars", "The day's budget (conversation.daily_budget)."
            )
            budget.add_metric([], self.daily_budget)
            yield budget
