"""The insights page is server-rendered: every figure is in a table, readable without JavaScript."""

import pytest

from insights.tests.test_insights_api import PERIOD

pytestmark = pytest.mark.django_db


def page_url(floor, query: str = PERIOD) -> str:
    return f"/orgs/{floor.trio.org.slug}/insights/?{query}"


def test_it_shows_the_figures_as_tables(scene, client):
    client.force_login(scene.trio.admin)
    response = client.get(page_url(scene))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="kpi-value" data-figure="totals.runs">4</span>' in html
    assert '<span class="kpi-value" data-figure="totals.cost_usd">0.043000</span>' in html
    assert "<tr><td>2026-11-10</td><td>1</td><td>1</td><td>0</td><td>0</td><td>0</td></tr>" in html
    assert "<tr><td>data</td><td>1</td><td>2000</td><td>500</td><td>0.030000</td></tr>" in html
    assert "<tr><td><code>k8s_get</code></td><td>3</td></tr>" in html
    assert "<tr><td><code>llm_unreachable</code></td><td>1</td></tr>" in html
    assert 'id="insights-data" type="application/json"' in html  # the charts' data, no inline script
    assert "<script>" not in html


def test_it_is_refused_below_admin_and_hidden_from_outsiders(scene, client):
    assert client.get(page_url(scene)).status_code == 302  # to the sign-in page
    client.force_login(scene.trio.operator)
    assert client.get(page_url(scene)).status_code == 403
    client.force_login(scene.trio.outsider)
    assert client.get(page_url(scene)).status_code == 404


def test_a_bad_period_is_a_sentence(scene, client):
    client.force_login(scene.trio.owner)
    response = client.get(page_url(scene, "from=2026-11-12&to=2026-11-11"))
    assert response.status_code == 400
    assert "The period starts after it ends. Showing the last 30 days." in response.content.decode()
