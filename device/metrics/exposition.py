"""The collector's figures in Prometheus' text format 0.0.4, rendered here at scrape time
(pure: no I/O, no prometheus_client). docs/metrics.md lists the metrics with what each means.

The text is what prometheus_client's ``generate_latest`` writes for the same families (the
format Prometheus scrapes, and the lines the device served before): ``# HELP`` and
``# TYPE`` per family (a counter's name ends in ``_total``), label names sorted, label values
and help escaped, values as Go writes floats (``1.0``, ``+Inf``, ``1.234567e+06``).
tests/metrics/test_exposition.py parses it with prometheus_client's own parser.

It is cheap: the header of each family is written once, the ``name{labels} `` part of each
sample line is kept after its first scrape (label values are few: fixed words and names
from the config), so a scrape is a float's text per sample and one join.

Example::

    text = Exposition(collector, lock=lock, now_ms=now, chunk_ms=40.0, info={}, daily_budget=None)
    text.render()   # b"# HELP voice_kiosk_device_info ..."
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from device.metrics.collector import Collector, Histogram

P = "voice_kiosk_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_CACHED_PREFIXES = 4096  # sample names with labels kept (bounded: a config could be odd)

Labels = tuple[tuple[str, str], ...]


def go_float(value: float) -> str:
    """A sample's value as Go (and prometheus_client's ``floatToGoString``) writes it."""
    d = float(value)
    if d == math.inf:
        return "+Inf"
    if d == -math.inf:
        return "-Inf"
    if d != d:
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    if d > 0 and dot > 6:  # Go switches to an exponent sooner than Python
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s


def escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def escape_help(doc: str) -> str:
    return doc.replace("\\", r"\\").replace("\n", r"\n")


@dataclass(frozen=True)
class Family:
    """One metric family: its sample name (``_total`` added to a counter's), type and help."""

    short: str  # without the prefix and a counter's _total: "tokens"
    kind: str  # counter, gauge, histogram
    doc: str
    name: str = field(init=False)
    head: str = field(init=False)  # its # HELP and # TYPE lines

    def __post_init__(self) -> None:
        name = P + self.short + ("_total" if self.kind == "counter" else "")
        object.__setattr__(self, "name", name)
        head = f"# HELP {name} {escape_help(self.doc)}\n# TYPE {name} {self.kind}\n"
        object.__setattr__(self, "head", head)


def _c(short: str, doc: str) -> Family:
    return Family(short, "counter", doc)


DEVICE_INFO = Family(
    "device_info", "gauge", "This device: its name, site and Realtime model (always 1)."
)
FIRST_AUDIO = Family(
    "first_audio_seconds",
    "histogram",
    "From the end of the caller's speech to the first reply audio, per turn.",
)
TOOL_CALLS = _c("tool_calls", "Tool calls by tool and outcome (ok, failed).")
TOOL_SECONDS = Family("tool_call_seconds", "histogram", "How long each tool call took, by tool.")
BARGE_INS = _c(
    "barge_ins",
    "Replies cut short by the caller, by who noticed: local_detector, server, button, wake_word.",
)
PAUSES = _c(
    "reply_pauses_resumed",
    "Replies paused on a suspected caller that went on (nobody was confirmed).",
)
HANDOVERS = _c(
    "handovers",
    "Hand-overs to a human, by reason: model (the model called the tool), cost_limit (the "
    "device did, at a cost limit).",
)
STARTED = _c(
    "conversations_started",
    "Conversations started, by source: wake_word, button, signal, start_up.",
)
ENDED = _c(
    "conversations",
    "Conversations ended, by outcome (goodbye, handed_over, nobody_spoke, timed_out, offline, "
    "busy, failed, muted, over_budget, ...).",
)
CONVERSATION_SECONDS = Family(
    "conversation_seconds", "histogram", "How long each conversation lasted."
)
RECONNECTS = _c("reconnects", "Sessions lost mid-conversation and opened again.")
OFFLINE = _c(
    "offline_seconds",
    "Time without a link: offline (idle, the offline prompts serve) and reconnecting "
    "(mid-conversation).",
)
PROMPTS = _c("prompts_played", "Canned prompts played, by name.")
AUDIO_IN = _c("audio_in_seconds", "Caller audio uploaded.")
AUDIO_OUT = _c("audio_out_seconds", "Reply audio handed to the speaker.")
AUDIO_DROPPED = _c("audio_dropped_seconds", "Caller audio dropped.")
RESPONSES = _c("responses", "Model responses, by status (completed, cancelled, ...).")
TOKENS = _c(
    "tokens",
    "Tokens billed (response.done usage, cancelled replies too), by kind: text_in, "
    "text_cached_in, text_out, audio_in, audio_cached_in, audio_out.",
)
TRANSCRIPTION_TOKENS = _c(
    "transcription_tokens",
    "Tokens the caller's transcription used, by kind: audio_in, text_in, out.",
)
TRANSCRIPTION_SECONDS = _c(
    "transcription_audio_seconds",
    "Audio transcribed, for a transcription model billed by duration.",
)
COST = _c("cost_dollars", "Estimated cost in US dollars (tokens x metrics.prices), by model.")
CONVERSATION_COST = Family(
    "conversation_cost_dollars", "histogram", "Estimated cost of each conversation."
)
LIMITS = _c("cost_limits", "Conversations stopped by a cost limit, by scope: conversation, day.")
REFUSED = _c("visitors_refused", "Visitors not served, by reason: daily_budget.")
SPENT_TODAY = Family(
    "spent_today_dollars", "gauge", "Estimated cost of the local day so far (every visitor)."
)
DAILY_BUDGET = Family(
    "daily_budget_dollars", "gauge", "The day's budget (conversation.daily_budget)."
)


class Exposition:
    """Renders ``collector`` under ``lock`` (see the module docstring)."""

    def __init__(
        self,
        collector: Collector,
        *,
        lock: AbstractContextManager[object],
        now_ms: Callable[[], float],
        chunk_ms: float,
        info: Mapping[str, str],
        daily_budget: float | None,
    ) -> None:
        self.c = collector
        self.lock = lock
        self.now_ms = now_ms
        self.chunk_ms = chunk_ms
        self.info: Labels = tuple(sorted(info.items()))
        self.daily_budget = daily_budget
        self._prefixes: dict[tuple[str, Labels], str] = {}

    def render(self) -> bytes:
        """The text of one scrape (UTF-8)."""
        out: list[str] = []
        with self.lock:
            self._write(out)
        return "".join(out).encode("utf-8")

    # -- lines -----------------------------------------------------------------------------

    def _prefix(self, name: str, labels: Labels) -> str:
        """``name{a="x",b="y"} `` (label names sorted, values escaped), kept."""
        key = (name, labels)
        prefix = self._prefixes.get(key)
        if prefix is None:
            if len(self._prefixes) >= MAX_CACHED_PREFIXES:
                self._prefixes.clear()
            inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in sorted(labels))
            prefix = f"{name}{{{inner}}} " if labels else f"{name} "
            self._prefixes[key] = prefix
        return prefix

    def _one(self, out: list[str], fam: Family, value: float) -> None:
        out.append(fam.head)
        out.append(self._prefix(fam.name, ()) + go_float(value) + "\n")

    def _by(self, out: list[str], fam: Family, label: str, counts: Mapping[str, float]) -> None:
        out.append(fam.head)
        name = fam.name
        for value, n in sorted(counts.items()):
            out.append(self._prefix(name, ((label, value),)) + go_float(n) + "\n")

    def _histogram(self, out: list[str], fam: Family, h: Histogram, labels: Labels = ()) -> None:
        bucket = fam.name + "_bucket"
        total = 0
        for le, n in zip(h.bound_labels, h.counts, strict=True):
            total += n
            out.append(self._prefix(bucket, (*labels, ("le", le))) + go_float(total) + "\n")
        out.append(self._prefix(fam.name + "_count", labels) + go_float(total) + "\n")
        out.append(self._prefix(fam.name + "_sum", labels) + go_float(h.sum) + "\n")

    def _histograms(self, out: list[str], fam: Family, label: str,
                    hs: Iterable[tuple[str, Histogram]]) -> None:  # fmt: skip
        out.append(fam.head)
        for value, h in hs:
            self._histogram(out, fam, h, ((label, value),))

    # -- the families, in the order of docs/metrics.md ---------------------------------------

    def _write(self, out: list[str]) -> None:
        c = self.c
        out.append(DEVICE_INFO.head)
        out.append(self._prefix(DEVICE_INFO.name, self.info) + "1.0\n")
        out.append(FIRST_AUDIO.head)
        self._histogram(out, FIRST_AUDIO, c.first_audio)
        out.append(TOOL_CALLS.head)
        for (tool, outcome), n in sorted(c.tool_calls.items()):
            labels = (("outcome", outcome), ("tool", tool))
            out.append(self._prefix(TOOL_CALLS.name, labels) + go_float(n) + "\n")
        self._histograms(out, TOOL_SECONDS, "tool", sorted(c.tool_seconds.items()))
        self._by(out, BARGE_INS, "source", c.barge_ins)
        self._one(out, PAUSES, c.pauses_resumed)
        self._by(out, HANDOVERS, "reason", c.handovers)
        self._by(out, STARTED, "source", c.started)
        self._by(out, ENDED, "outcome", c.ended)
        out.append(CONVERSATION_SECONDS.head)
        self._histogram(out, CONVERSATION_SECONDS, c.conversation_seconds)
        self._one(out, RECONNECTS, c.reconnects)
        self._by(out, OFFLINE, "state", c.offline_seconds(self.now_ms()))
        self._by(out, PROMPTS, "prompt", c.prompts)
        s = c.latest
        if s is not None:
            chunk_s = self.chunk_ms / 1000.0
            self._one(out, AUDIO_IN, s.audio_sent_chunks * chunk_s)
            self._one(out, AUDIO_OUT, s.reply_audio_ms / 1e3)
            self._one(out, AUDIO_DROPPED, s.audio_dropped * chunk_s)
        self._by(out, RESPONSES, "status", c.responses)
        self._by(out, TOKENS, "kind", c.tokens)
        self._by(out, TRANSCRIPTION_TOKENS, "kind", c.transcription_tokens)
        self._one(out, TRANSCRIPTION_SECONDS, c.transcription_seconds)
        self._by(out, COST, "model", {model: float(v) for model, v in c.cost.items()})
        out.append(CONVERSATION_COST.head)
        self._histogram(out, CONVERSATION_COST, c.conversation_cost)
        self._by(out, LIMITS, "scope", c.limits)
        self._by(out, REFUSED, "reason", c.refused)
        self._one(out, SPENT_TODAY, float(c.day_cost))
        if self.daily_budget is not None:
            self._one(out, DAILY_BUDGET, self.daily_budget)
