"""What a model's tokens cost: the one price table of Skyflo and the cost of a run's usage.

Prices are USD per million tokens: input, cached input (prompt tokens the provider served from its cache) and
output. Usage follows OpenAI's report: `prompt_tokens` includes the cached ones
(`prompt_tokens_details.cached_tokens`), `completion_tokens` includes the reasoning ones
(`completion_tokens_details.reasoning_tokens`), which are billed as output. An organisation's admins override any
model's prices (orgs.models.ModelPrice); a model nobody priced costs 0 and is listed as unpriced.

Layers, the first that names the model wins: the organisation's prices, the operator's `settings.LLM_PRICES` (where
it is set: `{model: (input, output)}` or `(input, cached input, output)`; a pair equal to the default keeps the
default's cached price), then DEFAULT_PRICES.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from orgs.models import ModelPrice, Organization

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Price:
    input: Decimal
    cached_input: Decimal
    output: Decimal

    @classmethod
    def of(cls, input: str, cached_input: str, output: str) -> Price:  # noqa: A002 - the price's name
        return cls(Decimal(input), Decimal(cached_input), Decimal(output))


# Published list prices (USD per 1M tokens: input, cached input, output); names match a model and its dated versions.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price.of("0.15", "0.075", "0.60"),
    "gpt-4o": Price.of("2.50", "1.25", "10.00"),
    "gpt-4.1-nano": Price.of("0.10", "0.025", "0.40"),
    "gpt-4.1-mini": Price.of("0.40", "0.10", "1.60"),
    "gpt-4.1": Price.of("2.00", "0.50", "8.00"),
    "gpt-5-nano": Price.of("0.05", "0.005", "0.40"),
    "gpt-5-mini": Price.of("0.25", "0.025", "2.00"),
    "gpt-5": Price.of("1.25", "0.125", "10.00"),
    "o3-mini": Price.of("1.10", "0.55", "4.40"),
    "o3": Price.of("2.00", "0.50", "8.00"),
    "o4-mini": Price.of("1.10", "0.275", "4.40"),
    "claude-3-5-haiku": Price.of("0.80", "0.08", "4.00"),
    "claude-sonnet-4": Price.of("3.00", "0.30", "15.00"),
    "claude-opus-4": Price.of("15.00", "1.50", "75.00"),
}


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # part of prompt_tokens
    reasoning_tokens: int = 0  # part of completion_tokens

    @classmethod
    def from_report(cls, usage: dict) -> Usage:
        """From an OpenAI-style `usage` object (details optional), or the flat keys of this class."""
        prompt_details = usage.get("prompt_tokens_details") or {}
        completion_details = usage.get("completion_tokens_details") or {}
        return cls(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int(prompt_details.get("cached_tokens") or usage.get("cached_tokens") or 0),
            reasoning_tokens=int(completion_details.get("reasoning_tokens") or usage.get("reasoning_tokens") or 0),
        )


def model_key(model: str, names) -> str | None:
    """The listed name for `model`: exact, else the longest listed name it starts with (dated versions), after
    dropping a provider prefix such as `openai/`."""
    name = model.rsplit("/", 1)[-1]
    if name in names:
        return name
    return next((n for n in sorted(names, key=len, reverse=True) if name.startswith(n)), None)


def _operator_price(name: str, entry) -> Price:
    values = [Decimal(str(value)) for value in entry]
    if len(values) == 3:
        return Price(*values)
    default = DEFAULT_PRICES.get(name)
    if default is not None and (default.input, default.output) == tuple(values):
        return default
    return Price(values[0], values[0], values[1])


def _table() -> dict[str, tuple[Price, str]]:
    """Every priced model of the install: name -> (price, "default" | "operator")."""
    table = {name: (price, "default") for name, price in DEFAULT_PRICES.items()}
    for name, entry in (getattr(settings, "LLM_PRICES", None) or {}).items():
        table[name] = (_operator_price(name, entry), "operator")
    return table


def price_for(model: str, *, org: Organization | str | None = None) -> Price | None:
    """The organisation's own price for `model` if an admin set one, else the default; None when unpriced."""
    if org is not None:
        own = {row.model: row for row in ModelPrice.objects.filter(org=org)}
        key = model_key(model, own)
        if key is not None:
            row = own[key]
            cached = row.cached_input_per_mtok if row.cached_input_per_mtok is not None else row.input_per_mtok
            return Price(row.input_per_mtok, cached, row.output_per_mtok)
    table = _table()
    key = model_key(model, table)
    return table[key][0] if key is not None else None


def run_cost(model: str, usage: Usage | dict, *, org: Organization | str | None = None) -> Decimal:
    """USD for one model call's (or a run's) usage at the organisation's prices; 0 for an unpriced model."""
    usage = usage if isinstance(usage, Usage) else Usage.from_report(usage)
    price = price_for(model, org=org)
    if price is None:
        return Decimal(0)
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    fresh = usage.prompt_tokens - cached
    total = price.input * fresh + price.cached_input * cached + price.output * usage.completion_tokens
    return (total / MILLION).quantize(Decimal("0.000001"))


def price_table(*, org: Organization) -> list[dict]:
    """Every priced model for the organisation: the defaults, replaced or extended by its own prices."""
    rows = {name: {"model": name, "source": source, **_price_dict(p)} for name, (p, source) in _table().items()}
    for own in ModelPrice.objects.filter(org=org):
        cached = own.cached_input_per_mtok if own.cached_input_per_mtok is not None else own.input_per_mtok
        price = Price(own.input_per_mtok, cached, own.output_per_mtok)
        rows[own.model] = {"model": own.model, "source": "organisation", **_price_dict(price)}
    return sorted(rows.values(), key=lambda row: row["model"])


def _price_dict(price: Price) -> dict:
    return {
        "input_per_mtok": price.input,
        "cached_input_per_mtok": price.cached_input,
        "output_per_mtok": price.output,
    }
