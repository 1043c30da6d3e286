"""What tokens cost: a price per million tokens, and the cost of a run's usage.

A :class:`Price` comes from the command line (``--price in=0.15,out=0.60,cached=0.075``, US
dollars per million prompt, completion and cached prompt tokens) or from
:data:`BUILTIN_PRICES`, a small table of OpenAI's list prices **as of** :data:`PRICES_AS_OF`
(source: :data:`PRICES_SOURCE`). Prices change: the table is a convenience, not a quote. The
embedded model runs locally and has no per-token price (:data:`LOCAL_PRICE`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pactx.providers import LlamaCppBackend
from pactx.schema import TokenUsage

__all__ = [
    "Price",
    "PRICES_AS_OF",
    "PRICES_SOURCE",
    "BUILTIN_PRICES",
    "LOCAL_PRICE",
    "parse_price",
    "price_for",
    "resolve_price",
    "format_cost",
    "usage_line",
    "priced",
    "cost_line",
]

PRICES_AS_OF = "2025-08"
"""When :data:`BUILTIN_PRICES` were copied from their source."""
PRICES_SOURCE = "OpenAI API pricing, https://openai.com/api/pricing (standard tier, text tokens)"
"""Where :data:`BUILTIN_PRICES` come from."""


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens: prompt (``input``), completion (``output``), cached prompt.

    ``cached`` is the rate of prompt tokens served from the provider's prompt cache; ``None``
    bills them at the ``input`` rate.
    """

    input: float
    output: float
    cached: float | None = None
    source: str = "--price"

    def cost(self, usage: TokenUsage) -> float:
        """The dollars ``usage`` costs (cached tokens are part of the prompt tokens)."""
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        cached_rate = self.input if self.cached is None else self.cached
        fresh = usage.prompt_tokens - cached
        return (fresh * self.input + cached * cached_rate + usage.completion_tokens * self.output) / 1e6

    def describe(self) -> str:
        """``in $0.15, out $0.60, cached $0.075 per 1M tokens (source)``."""
        parts = [f"in ${self.input:g}", f"out ${self.output:g}"]
        if self.cached is not None:
            parts.append(f"cached ${self.cached:g}")
        return ", ".join(parts) + f" per 1M tokens ({self.source})"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (for reports)."""
        return {"input": self.input, "output": self.output, "cached": self.cached, "source": self.source}


_LIST = f"OpenAI list price as of {PRICES_AS_OF}"
BUILTIN_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00, 1.25, _LIST),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075, _LIST),
    "gpt-4.1": Price(2.00, 8.00, 0.50, _LIST),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10, _LIST),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025, _LIST),
}
"""USD per million tokens for a few common hosted models, as of :data:`PRICES_AS_OF`."""

LOCAL_PRICE = Price(0.0, 0.0, 0.0, "local model, no per-token price")
"""The embedded model's price: it runs in-process."""

_KEYS = {"in": "input", "input": "input", "out": "output", "output": "output", "cached": "cached"}
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")  # gpt-4o-mini-2024-07-18 is priced as gpt-4o-mini


def parse_price(text: str) -> Price:
    """Read ``in=…,out=…[,cached=…]`` (USD per million tokens); ValueError names what is wrong."""
    values: dict[str, float] = {}
    for item in text.split(","):
        key, sep, raw = item.strip().partition("=")
        name = _KEYS.get(key.strip().lower())
        if not sep or name is None:
            raise ValueError(f"price {text!r}: expected in=…,out=… (and optionally cached=…), got {item.strip()!r}")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"price {text!r}: {key.strip()}={raw.strip()!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"price {text!r}: {key.strip()} must be a non-negative number")
        values[name] = value
    missing = [k for k in ("input", "output") if k not in values]
    if missing:
        raise ValueError(f"price {text!r}: {' and '.join('in' if m == 'input' else 'out' for m in missing)}= missing")
    return Price(values["input"], values["output"], values.get("cached"))


def price_for(model: str | None, provider: str | None = None) -> Price | None:
    """The built-in price of ``model`` (a dated snapshot counts as its model), or ``None``.

    The embedded model (provider ``llama-cpp``) costs nothing per token.
    """
    if provider == LlamaCppBackend.provider:
        return LOCAL_PRICE
    if not model:
        return None
    name = model.strip().lower().rsplit("/", 1)[-1]  # "openai/gpt-4o-mini" on a router
    return BUILTIN_PRICES.get(name) or BUILTIN_PRICES.get(_SNAPSHOT.sub("", name))


def resolve_price(option: str | None, model: str | None, provider: str | None = None) -> Price | None:
    """The price to use: ``option`` (``--price``) when given, else :func:`price_for`."""
    return parse_price(option) if option else price_for(model, provider)


def format_cost(dollars: float) -> str:
    """``$0.000042`` below a cent, ``$0.0123`` below a dollar, ``$12.35`` above."""
    if dollars < 0.01:
        return f"${dollars:.6f}"
    return f"${dollars:.4f}" if dollars < 1 else f"${dollars:,.2f}"


def usage_line(usage: TokenUsage) -> str:
    """``12,345 prompt (10,000 cached), 678 completion``."""
    cached = f" ({usage.cached_tokens:,} cached)" if usage.cached_tokens else ""
    return f"{usage.prompt_tokens:,} prompt{cached}, {usage.completion_tokens:,} completion"


def priced(dollars: float, price: Price) -> str:
    """``$0.0123 at in $0.15, ... (source)``; ``$0 (local model, ...)`` for the embedded model."""
    if price == LOCAL_PRICE:
        return f"$0 ({price.source})"
    return f"{format_cost(dollars)} at {price.describe()}"


def cost_line(usage: TokenUsage, price: Price | None, model: str | None) -> str:
    """What ``usage`` cost at ``price``, or why it is unknown."""
    if price is None:
        return f"unknown: no built-in price for {model or 'this model'}; give --price in=...,out=..."
    return priced(price.cost(usage), price)
