"""What a response costs, from its ``usage`` and the model's prices (pure, exact).

Prices are US dollars per 1M tokens (`ModelPrices`, the ``metrics.prices`` table); the cost
is a `Decimal` in dollars, exact: ``tokens * price / 1_000_000`` summed over the six kinds
of token, so a figure computed by hand from the same usage is the same to the last digit.

How a `Usage` splits into the six kinds (`Tokens.of`):

- cached input is a part of the input: uncached text = ``input_text_tokens`` minus the
  cached text tokens, and the same for audio;
- a server that gives ``cached_tokens`` without its text/audio split: counted as cached text
  first (up to the text input), the rest as cached audio;
- input or output tokens the details do not account for are counted as audio (the dearer
  kind: a budget must not be under-estimated).

Tokens of a cancelled reply are billed, and counted, like any other.

Example::

    prices = TokenPrices.of("gpt-realtime-2.1", DEFAULT_PRICES["gpt-realtime-2.1"])
    prices.cost(Usage(input_tokens=1000, input_audio_tokens=1000))  # Decimal('0.032')
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from device.metrics.settings import MetricsSettings, ModelPrices
from device.realtime.events import Usage

MILLION = Decimal(1_000_000)
ZERO = Decimal(0)


def decimal(value: float) -> Decimal:
    """A price from the config as the decimal it was written as (0.4 -> Decimal('0.4'))."""
    return Decimal(repr(float(value)))


@dataclass(frozen=True, slots=True)
class Tokens:
    """A usage in the six kinds of token the prices are given for."""

    text_in: int = 0
    text_cached_in: int = 0
    text_out: int = 0
    audio_in: int = 0
    audio_cached_in: int = 0
    audio_out: int = 0

    @classmethod
    def of(cls, u: Usage) -> Tokens:
        """The split described in the module docstring."""
        cached_text, cached_audio = u.input_cached_text_tokens, u.input_cached_audio_tokens
        if cached_text + cached_audio == 0 and u.input_cached_tokens > 0:
            cached_text = min(u.input_cached_tokens, u.input_text_tokens)
            cached_audio = u.input_cached_tokens - cached_text
        text_in = max(u.input_text_tokens - cached_text, 0)
        audio_in = max(u.input_audio_tokens - cached_audio, 0)
        unsplit_in = u.input_tokens - (text_in + audio_in + cached_text + cached_audio)
        unsplit_out = u.output_tokens - (u.output_text_tokens + u.output_audio_tokens)
        return cls(
            text_in=text_in,
            text_cached_in=cached_text,
            text_out=u.output_text_tokens,
            audio_in=audio_in + max(unsplit_in, 0),
            audio_cached_in=cached_audio,
            audio_out=u.output_audio_tokens + max(unsplit_out, 0),
        )

    def items(self) -> list[tuple[str, int]]:
        """(kind, tokens) in a fixed order: text_in, text_cached_in, ... audio_out."""
        return [(kind, getattr(self, kind)) for kind in TOKEN_KINDS]


TOKEN_KINDS = tuple(f.name for f in fields(Tokens))


@dataclass(frozen=True, slots=True)
class TokenPrices:
    """One model's prices, US dollars per 1M tokens of each kind (see `Tokens`)."""

    model: str
    text_in: Decimal
    text_cached_in: Decimal
    text_out: Decimal
    audio_in: Decimal
    audio_cached_in: Decimal
    audio_out: Decimal

    @classmethod
    def of(cls, model: str, prices: ModelPrices) -> TokenPrices:
        return cls(
            model=model,
            **{f.name: decimal(getattr(prices, f.name)) for f in fields(ModelPrices)},
        )

    def cost(self, usage: Usage) -> Decimal:
        """US dollars, exact (the conversation engine's `Pricing`)."""
        return self.cost_of(Tokens.of(usage))

    def cost_of(self, tokens: Tokens) -> Decimal:
        total = sum((n * getattr(self, kind) for kind, n in tokens.items()), ZERO)
        return total / MILLION


def prices_for(settings: MetricsSettings, model: str) -> TokenPrices | None:
    """The prices of ``model`` (`MetricsSettings.priced`); None when the table has none."""
    name = settings.priced(model)
    return TokenPrices.of(name, settings.prices[name]) if name else None


def dollars(value: Decimal) -> str:
    """A cost for people: ``$0.0123`` (four decimals, enough to see a cheap turn)."""
    return f"${value:.4f}"
