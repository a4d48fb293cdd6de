"""A real run is charged at the organisation's own token prices, its figures reach the insights, and once the
month's budget is spent the next message is refused with 429 budget_exceeded (real daphne, worker, scripted LLM)."""

import time
from decimal import Decimal

import pytest

from tests.scripted_llm import plan, say

pytestmark = pytest.mark.e2e


def _finished(shop, run_id: str, within_s: float = 60) -> dict:
    deadline = time.monotonic() + within_s
    while True:
        run = shop.run(run_id)
        if run["status"] in ("succeeded", "failed", "cancelled", "denied") or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def test_a_run_costs_the_orgs_prices_and_a_spent_budget_refuses_the_next(shop, live_llm):
    slug = shop.org.slug
    with shop.client(shop.owner) as owner:
        price = {"model": "scripted-model", "input_per_mtok": "1000", "output_per_mtok": "2000"}
        assert owner.put(f"/orgs/{slug}/prices/", json=price).status_code == 200
    live_llm.set_script([plan([]), say("Nothing needs to change.", agent="responder")])
    run_id = shop.ask("is web healthy?")["run"]["id"]
    run = _finished(shop, run_id)
    assert run["status"] == "succeeded", run
    usage = run["usage"]
    assert usage["prompt_tokens"] > 0
    expected = (usage["prompt_tokens"] * Decimal("0.001") + usage["completion_tokens"] * Decimal("0.002")).normalize()
    assert Decimal(str(usage["cost_usd"])).normalize() == expected

    with shop.client(shop.owner) as owner:
        figures = owner.get(f"/orgs/{slug}/insights/").json()
        assert Decimal(figures["totals"]["cost_usd"]) >= expected
        budget = {"kind": "cost", "monthly_limit": str(expected)}
        assert owner.put(f"/orgs/{slug}/budgets/", json=budget).json()["reached"] is True
    with shop.client(shop.operator) as operator:
        response = operator.post(f"/conversations/{shop.conversation_id}/messages/", json={"content": "and now?"})
    assert response.status_code == 429
    assert response.json()["code"] == "budget_exceeded"
    with shop.client(shop.owner) as owner:
        owner.put(f"/orgs/{slug}/budgets/", json={"kind": "cost", "monthly_limit": "1000000"})
