"""The per-run cost: USD per million tokens from the default table of orgs/pricing.py, dated and provider-prefixed
names included, overridable per model by the operator (settings.LLM_PRICES, SKYFLO_LLM_PRICES); an unknown model
costs 0."""

from decimal import Decimal

from workflows.run_context import llm_cost


def test_it_prices_known_models_by_their_longest_listed_name():
    assert llm_cost("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == Decimal("0.75")
    assert llm_cost("openai/gpt-4o", 1_000_000, 0) == Decimal("2.5")
    assert llm_cost("my-local-model", 1_000_000, 1_000_000) == 0


def test_it_takes_prices_from_settings(settings):
    settings.LLM_PRICES = {**settings.LLM_PRICES, "my-local-model": (0.5, 1.5), "gpt-4o": (1.0, 1.0)}

    assert llm_cost("my-local-model", 2_000_000, 1_000_000) == Decimal("2.5")
    assert llm_cost("gpt-4o", 1_000_000, 0) == Decimal("1")
