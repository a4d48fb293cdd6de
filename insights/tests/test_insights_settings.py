"""The admins' forms on the insights page: budgets, token prices and sharing with a team, without the API."""

import pytest
from guardian.shortcuts import get_perms

from orgs.models import Budget, ModelPrice

pytestmark = pytest.mark.django_db


def settings_url(floor) -> str:
    return f"/orgs/{floor.trio.org.slug}/insights/settings/"


def test_an_admin_sets_a_team_budget_and_a_price_and_shares_the_insights(floor, client):
    trio = floor.trio
    client.force_login(trio.admin)
    form = {"action": "budget_set", "team": str(floor.platform.id), "kind": "cost", "monthly_limit": "12.5"}
    response = client.post(settings_url(floor), form)
    assert response.status_code == 302
    assert response["Location"] == f"/orgs/{trio.org.slug}/insights/#admin"
    budget = Budget.objects.get(org=trio.org)
    assert (budget.team, budget.kind, budget.monthly_limit) == (floor.platform, "cost", 12.5)
    price = {"action": "price_set", "model": "my-llm", "input_per_mtok": "1", "output_per_mtok": "3"}
    client.post(settings_url(floor), price)
    assert ModelPrice.objects.get(org=trio.org, model="my-llm").cached_input_per_mtok is None
    client.post(settings_url(floor), {"action": "share", "team": str(floor.data.id)})
    assert "view_insights" in get_perms(trio.viewer, trio.org)
    html = client.get(f"/orgs/{trio.org.slug}/insights/").content.decode()
    assert "<td>team platform</td><td>12.5 Cost (USD)</td><td>0</td><td>0 %</td>" in html
    assert "<td><code>my-llm</code></td><td>1</td><td>1</td><td>3</td><td>organisation</td>" in html
    assert "Its members see these insights" in html
    client.post(settings_url(floor), {"action": "budget_delete", "budget": str(budget.id)})
    client.post(settings_url(floor), {"action": "price_delete", "model": "my-llm"})
    assert not Budget.objects.exists()
    assert not ModelPrice.objects.exists()


def test_a_bad_value_is_a_sentence(floor, client):
    client.force_login(floor.trio.owner)
    form = {"action": "budget_set", "kind": "tokens", "monthly_limit": "lots"}
    page = client.post(settings_url(floor), form, follow=True).content.decode()
    assert "A number." in page
    assert not Budget.objects.exists()


def test_only_admins_may_post(floor, client):
    form = {"action": "budget_set", "kind": "tokens", "monthly_limit": "10"}
    assert client.post(settings_url(floor), form).status_code == 302  # to the sign-in page
    client.force_login(floor.trio.operator)
    assert client.post(settings_url(floor), form).status_code == 403
    client.force_login(floor.trio.outsider)
    assert client.post(settings_url(floor), form).status_code == 404
    assert not Budget.objects.exists()
    client.force_login(floor.trio.admin)
    assert client.get(settings_url(floor)).status_code == 405
