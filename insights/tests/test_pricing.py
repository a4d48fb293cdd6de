"""The cost of usage: one price table (orgs/pricing.py) with cached input, and the organisation's own prices."""

from decimal import Decimal

import pytest

from orgs.models import AuditEvent, ModelPrice
from orgs.pricing import Usage, run_cost
from orgs.tests.matrix import as_role, assert_refused

pytestmark = pytest.mark.django_db

REPORT = {  # an OpenAI usage object: cached tokens are part of the prompt, reasoning ones of the completion
    "prompt_tokens": 1000,
    "completion_tokens": 500,
    "prompt_tokens_details": {"cached_tokens": 400},
    "completion_tokens_details": {"reasoning_tokens": 200},
}


def prices_url(trio) -> str:
    return f"/api/v1/orgs/{trio.org.slug}/prices/"


def test_it_prices_cached_input_and_reasoning_output_from_the_default_table():
    # gpt-4o-mini: 0.15 input, 0.075 cached input, 0.60 output (USD per 1M); reasoning tokens bill as output.
    expected = (600 * Decimal("0.15") + 400 * Decimal("0.075") + 500 * Decimal("0.60")) / 1_000_000
    assert run_cost("gpt-4o-mini-2024-07-18", REPORT) == expected == Decimal("0.000420")
    assert (
        run_cost("openai/gpt-4o-mini", Usage(prompt_tokens=1000, completion_tokens=500, cached_tokens=400)) == expected
    )
    assert Usage.from_report(REPORT) == Usage(1000, 500, 400, 200)
    assert run_cost("gpt-4o", {"prompt_tokens": 1_000_000}) == Decimal("2.500000")


def test_an_unpriced_model_costs_nothing():
    assert run_cost("my-local-llama", REPORT) == Decimal(0)


def test_an_admin_sets_the_organisations_prices(trio):
    body = {"model": "my-local-llama", "input_per_mtok": "1", "cached_input_per_mtok": "0.5", "output_per_mtok": "4"}
    assert_refused(trio, "put", prices_url(trio), min_role="admin", data=body, snapshot=ModelPrice.objects.count)
    assert_refused(trio, "get", prices_url(trio), min_role="admin")
    response = as_role(trio, "admin").put(prices_url(trio), body, format="json")
    assert response.status_code == 200, response.content
    rows = {row["model"]: row for row in response.json()["results"]}
    assert rows["my-local-llama"]["source"] == "organisation"
    assert rows["gpt-4o-mini"] == {
        "model": "gpt-4o-mini",
        "source": "default",
        "input_per_mtok": "0.150000",
        "cached_input_per_mtok": "0.075000",
        "output_per_mtok": "0.600000",
    }
    # (600 * 1 + 400 * 0.5 + 500 * 4) / 1M, for this organisation only
    assert run_cost("my-local-llama", REPORT, org=trio.org) == Decimal("0.002800")
    assert run_cost("my-local-llama", REPORT) == Decimal(0)
    assert AuditEvent.objects.filter(org=trio.org, action="model_price.set").exists()


def test_an_organisation_price_replaces_the_default_and_can_be_removed(trio):
    body = {"model": "gpt-4o-mini", "input_per_mtok": "0.30", "output_per_mtok": "1.20"}
    assert as_role(trio, "owner").put(prices_url(trio), body, format="json").status_code == 200
    # no cached price given: cached tokens cost the input price
    assert run_cost("gpt-4o-mini-2024-07-18", REPORT, org=trio.org) == Decimal("0.000900")
    url = f"{prices_url(trio)}gpt-4o-mini/"
    assert_refused(trio, "delete", url, min_role="admin", snapshot=ModelPrice.objects.count)
    assert as_role(trio, "admin").delete(url).status_code == 204
    assert run_cost("gpt-4o-mini-2024-07-18", REPORT, org=trio.org) == Decimal("0.000420")


def test_it_refuses_a_negative_price(trio):
    body = {"model": "x", "input_per_mtok": "-1", "output_per_mtok": "1"}
    response = as_role(trio, "admin").put(prices_url(trio), body, format="json")
    assert response.status_code == 400
    assert "input_per_mtok" in response.json()


def test_the_operators_table_comes_between_the_defaults_and_the_organisation(trio, settings):
    settings.LLM_PRICES = {"my-local-model": (0.5, 1.5), "gpt-4o": (1.0, 1.0), "gpt-4o-mini": (0.15, 0.60)}
    assert run_cost("my-local-model", {"prompt_tokens": 2_000_000, "completion_tokens": 1_000_000}) == Decimal("2.5")
    assert run_cost("gpt-4o", {"prompt_tokens": 1_000_000}) == Decimal(1)
    assert run_cost("gpt-4o-mini-2024-07-18", REPORT) == Decimal("0.000420")  # the same pair keeps the cached price
    rows = {row["model"]: row["source"] for row in as_role(trio, "admin").get(prices_url(trio)).json()["results"]}
    assert (rows["gpt-4o"], rows["my-local-model"], rows["o3"]) == ("operator", "operator", "default")
    body = {"model": "gpt-4o", "input_per_mtok": "3", "output_per_mtok": "3"}
    assert as_role(trio, "admin").put(prices_url(trio), body, format="json").status_code == 200
    assert run_cost("gpt-4o", {"prompt_tokens": 1_000_000}, org=trio.org) == Decimal(3)
