"""Settings of the metrics (the `metrics:` section of the config): the Prometheus port, the
price table the cost is estimated from, and where the day's spend is kept.

The cost guard's limits themselves are conversation settings (``conversation.max_cost``,
``conversation.daily_budget``, ``conversation.limit_action``); docs/metrics.md.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from device.common.options import option


@dataclass(frozen=True, kw_only=True)
class ModelPrices:
    """US dollars per 1M tokens of one Realtime model (the ``usage`` of ``response.done``)."""

    text_in: float = option(doc="Text input, per 1M tokens.", min=0, max=10_000)
    text_cached_in: float = option(doc="Cached text input, per 1M tokens.", min=0, max=10_000)
    text_out: float = option(doc="Text output, per 1M tokens.", min=0, max=10_000)
    audio_in: float = option(doc="Audio input, per 1M tokens.", min=0, max=10_000)
    audio_cached_in: float = option(doc="Cached audio input, per 1M tokens.", min=0, max=10_000)
    audio_out: float = option(doc="Audio output, per 1M tokens.", min=0, max=10_000)


DEFAULT_PRICES: dict[str, ModelPrices] = {
    # OpenAI's price pages, per 1M tokens
    "gpt-realtime-2.1": ModelPrices(
        text_in=4.0,
        text_cached_in=0.4,
        text_out=24.0,
        audio_in=32.0,
        audio_cached_in=0.4,
        audio_out=64.0,
    ),
    "gpt-realtime-2.1-mini": ModelPrices(
        text_in=0.6,
        text_cached_in=0.06,
        text_out=2.4,
        audio_in=10.0,
        audio_cached_in=0.3,
        audio_out=20.0,
    ),
}


@dataclass(frozen=True, kw_only=True)
class MetricsSettings:
    """Metrics for Prometheus, the estimated cost, and the spend the cost guard keeps
    (docs/metrics.md)."""

    enabled: bool = option(False, doc="Serve the metrics for Prometheus on host:port (/metrics).")
    host: str = option(
        "127.0.0.1",
        doc="Address the metrics port binds to (0.0.0.0: every interface, for a fleet's "
        "Prometheus).",
        blank=False,
    )
    port: int = option(9464, doc="TCP port of the metrics (0: any free port).", min=0, max=65535)
    prices: dict[str, ModelPrices] = option(
        DEFAULT_PRICES,
        doc="US dollars per 1M tokens, by Realtime model (a dated model name takes the "
        "prices of the longest name it starts with); giving it replaces the table.",
    )
    time_zone: str | None = option(
        None,
        doc="The time zone the daily budget's day is counted in, e.g. Europe/London "
        "(null: the device's own).",
    )
    state_dir: Path | None = option(
        None,
        doc="Folder where the day's spend is kept across restarts (null: systemd's "
        "StateDirectory, $STATE_DIRECTORY; neither: kept in memory only).",
    )

    def __post_init__(self) -> None:
        if self.time_zone is not None:
            try:
                zoneinfo.ZoneInfo(self.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"time_zone: not a time zone this device knows (got {self.time_zone!r})"
                ) from None

    def priced(self, model: str) -> str | None:
        """The entry of ``prices`` for ``model``: its own, else the longest name it starts
        with (a dated snapshot, ``gpt-realtime-2.1-2025-08-28``); None: neither."""
        if model in self.prices:
            return model
        names = [n for n in self.prices if model.startswith(n + "-")]
        return max(names, key=len) if names else None
