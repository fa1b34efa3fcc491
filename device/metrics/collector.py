"""Reports in, counters and histograms out (pure: no clock, no I/O, no prometheus_client).

`Collector.take(t_ms, report)` updates plain numbers; `Collector.stats(stats)` keeps the
daemon's latest counters (`Stats`: audio in and out, audio dropped); the exposition
(device/metrics/exposition.py) renders them at scrape time. Each conversation's own
figures are gathered in a `Visit`, handed back by ``take`` when the conversation ends (the
service logs it as one line).

Label values are few and fixed (a barge-in's source, an outcome, a token kind) or come from
the config (tool and prompt names), never from what a caller or the server says.

Example::

    c = Collector()
    c.take(0.0, ConversationStarted("conv-1", "button"))
    c.take(900.0, FirstAudio(640.0))
    visit = c.take(5000.0, ConversationEnded("bye", None, Outcome.GOODBYE))  # a Visit
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from device.conversation.reports import (
    ConversationEnded,
    ConversationStarted,
    CostReported,
    FirstAudio,
    HandedOver,
    Interrupted,
    LimitReached,
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
from device.metrics.cost import Tokens
from device.services.ports import Stats

# few buckets: every one is a line of every scrape (tools/bench_metrics.py)
FIRST_AUDIO_BUCKETS_S = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
TOOL_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONVERSATION_BUCKETS_S = (30.0, 60.0, 120.0, 300.0, 600.0)
COST_BUCKETS = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
OFFLINE_STATES = {State.OFFLINE: "offline", State.RECONNECTING: "reconnecting"}
ZERO = Decimal(0)


def barge_in_source(source: str) -> str:
    """An interruption's source in a few fixed words (the label of ``barge_ins``)."""
    s = source.lower()
    if "server" in s:
        return "server"
    if "speech detect" in s or "vad" in s:
        return "local_detector"
    if "wake" in s:
        return "wake_word"
    if "button" in s or "sigusr" in s:
        return "button"
    return "other"


def start_source(source: str) -> str:
    """What started a conversation, in a few fixed words."""
    s = source.lower()
    for word, label in (("wake", "wake_word"), ("button", "button"), ("sigusr", "signal")):
        if word in s:
            return label
    return "start_up" if "start-up" in s else "other"


class Histogram:
    """Counts per upper bound (not cumulative), their sum and count."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.bound_labels = (*map(str, buckets), "+Inf")  # each bucket's ``le``
        self.counts = [0] * (len(buckets) + 1)  # the last: above every bound (+Inf)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, cumulative count) for Prometheus, ending with +Inf."""
        out, total = [], 0
        for bound, n in zip(self.bound_labels, self.counts, strict=True):
            total += n
            out.append((bound, total))
        return out


@dataclass
class Visit:
    """One conversation's figures (the per-conversation log line)."""

    conversation_id: str
    source: str
    started_ms: float
    outcome: str = ""
    reason: str = ""
    seconds: float = 0.0
    turns: int = 0
    first_audio_ms: list[float] = field(default_factory=list)
    tool_calls: int = 0
    tool_failures: int = 0
    barge_ins: int = 0
    pauses_resumed: int = 0
    handovers: int = 0
    reconnects: int = 0
    prompts: int = 0
    responses: int = 0
    tokens: Counter[str] = field(default_factory=Counter)
    cost: Decimal = ZERO
    limit: str = ""  # the cost limit that stopped it (conversation, day), if any

    def fields(self) -> dict[str, object]:
        """Flat figures for the log line and its journal fields."""
        latencies = sorted(self.first_audio_ms)
        return {
            "conversation": self.conversation_id,
            "outcome": self.outcome,
            "source": self.source,
            "seconds": round(self.seconds, 1),
            "turns": self.turns,
            "first_audio_ms_median": round(latencies[len(latencies) // 2]) if latencies else None,
            "first_audio_ms_max": round(latencies[-1]) if latencies else None,
            "tool_calls": self.tool_calls,
            "tool_failures": self.tool_failures,
            "barge_ins": self.barge_ins,
            "pauses_resumed": self.pauses_resumed,
            "handovers": self.handovers,
            "reconnects": self.reconnects,
            "prompts": self.prompts,
            "responses": self.responses,
            **{f"tokens_{kind}": n for kind, n in sorted(self.tokens.items())},
            "cost_usd": f"{self.cost:.6f}",
            "limit": self.limit or None,
        }


class Collector:
    """Every figure since the daemon started (see the module docstring)."""

    def __init__(self) -> None:
        self.first_audio = Histogram(FIRST_AUDIO_BUCKETS_S)
        self.tool_calls: Counter[tuple[str, str]] = Counter()  # (tool, ok|failed)
        self.tool_seconds: dict[str, Histogram] = {}
        self.barge_ins: Counter[str] = Counter()
        self.pauses_resumed = 0
        self.handovers: Counter[str] = Counter()  # by reason
        self.started: Counter[str] = Counter()  # by source
        self.ended: Counter[str] = Counter()  # by outcome
        self.conversation_seconds = Histogram(CONVERSATION_BUCKETS_S)
        self.reconnects = 0
        self.offline_ms: dict[str, float] = {}  # by state, finished stretches
        self.prompts: Counter[str] = Counter()
        self.responses: Counter[str] = Counter()  # by status
        self.tokens: Counter[str] = Counter()  # by kind (cost.Tokens' fields)
        self.transcription_tokens: Counter[str] = Counter()  # audio_in, text_in, out
        self.transcription_seconds = 0.0
        self.cost: dict[str, Decimal] = {}  # by model
        self.conversation_cost = Histogram(COST_BUCKETS)
        self.limits: Counter[str] = Counter()  # by scope
        self.refused: Counter[str] = Counter()  # by reason
        self.day = ""
        self.day_cost = ZERO
        self.latest: Stats | None = None
        self.visit: Visit | None = None
        self._offline: tuple[str, float] | None = None  # (state, since t_ms)

    def stats(self, stats: Stats) -> None:
        self.latest = stats

    def offline_seconds(self, now_ms: float) -> dict[str, float]:
        """Seconds in each offline state, the stretch under way up to ``now_ms`` too."""
        ms = dict(self.offline_ms)
        if self._offline is not None:
            state, since = self._offline
            ms[state] = ms.get(state, 0.0) + max(now_ms - since, 0.0)
        return {state: ms.get(state, 0.0) / 1000.0 for state in OFFLINE_STATES.values()}

    def take(self, t_ms: float, report: Report) -> Visit | None:
        """Count one report; the finished `Visit` when it ends a conversation."""
        v = self.visit
        match report:
            case ConversationStarted(conversation_id=cid, source=source):
                self.started[start_source(source)] += 1
                self.visit = Visit(cid, start_source(source), t_ms)
            case ConversationEnded(reason=reason, outcome=outcome):
                self.ended[outcome.value] += 1
                if v is not None:
                    v.outcome, v.reason = outcome.value, reason
                    v.seconds = (t_ms - v.started_ms) / 1000.0
                    self.conversation_seconds.observe(v.seconds)
                    self.conversation_cost.observe(float(v.cost))
                    self.visit = None
                    return v
            case FirstAudio(latency_ms=ms):
                self.first_audio.observe(ms / 1000.0)
                if v is not None:
                    v.first_audio_ms.append(ms)
            case ToolReported(name=name, ok=ok, ms=ms):
                self.tool_calls[(name, "ok" if ok else "failed")] += 1
                self.tool_seconds.setdefault(name, Histogram(TOOL_BUCKETS_S)).observe(ms / 1000)
                if v is not None:
                    v.tool_calls += 1
                    v.tool_failures += not ok
            case Interrupted(source=source):
                self.barge_ins[barge_in_source(source)] += 1
                if v is not None:
                    v.barge_ins += 1
            case ReplyPaused():
                self.pauses_resumed += 1
                if v is not None:
                    v.pauses_resumed += 1
            case HandedOver(reason=reason):
                self.handovers[reason] += 1
                if v is not None:
                    v.handovers += 1
            case StateChanged(old=old, new=new):
                self._state_changed(t_ms, old, new)
            case PromptPlayed(name=name):
                self.prompts[name] += 1
                if v is not None:
                    v.prompts += 1
            case TurnEnded(n=n):
                if v is not None:
                    v.turns = max(v.turns, n)
            case UsageReported(status=status, usage=usage):
                self.responses[status] += 1
                for kind, n in Tokens.of(usage).items():
                    self.tokens[kind] += n
                    if v is not None and n:
                        v.tokens[kind] += n
                if v is not None:
                    v.responses += 1
            case CostReported(model=model, cost=cost, day=day, day_cost=day_cost):
                self.cost[model] = self.cost.get(model, ZERO) + cost
                self.day, self.day_cost = day, day_cost
                if v is not None:
                    v.cost += cost
            case LimitReached(scope=scope):
                self.limits[scope] += 1
                if v is not None:
                    v.limit = scope
            case VisitorRefused(reason=reason):
                self.refused[reason] += 1
            case TranscriptionUsed(usage=u):
                self.transcription_tokens["audio_in"] += u.input_audio_tokens
                self.transcription_tokens["text_in"] += u.input_text_tokens
                self.transcription_tokens["out"] += u.output_tokens
                self.transcription_seconds += u.seconds
            case _:
                pass
        return None

    def _state_changed(self, t_ms: float, old: State, new: State) -> None:
        if new is State.RECONNECTING:
            self.reconnects += 1
            if self.visit is not None:
                self.visit.reconnects += 1
        if self._offline is not None and new is not old:
            state, since = self._offline
            self.offline_ms[state] = self.offline_ms.get(state, 0.0) + max(t_ms - since, 0.0)
            self._offline = None
        if new in OFFLINE_STATES:
            self._offline = (OFFLINE_STATES[new], t_ms)
