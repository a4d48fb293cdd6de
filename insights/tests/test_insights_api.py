"""GET /api/v1/orgs/{slug}/insights/: the figures of a period, for admins and owners (and teams it is shared with)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from insights.tests.conftest import DAY
from orgs.tests.matrix import as_role, assert_refused
from tests.accounts import bearer_client

pytestmark = pytest.mark.django_db

PERIOD = "from=2026-11-09&to=2026-11-11"


def url(floor, query: str = PERIOD) -> str:
    return f"/api/v1/orgs/{floor.trio.org.slug}/insights/?{query}"


def test_it_answers_the_figures_of_the_period(scene):
    response = as_role(scene.trio, "admin").get(url(scene))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["from"], body["to"]) == ("2026-11-09", "2026-11-11")
    assert body["totals"] == {
        "runs": 4, "prompt_tokens": 3600, "completion_tokens": 700, "tokens": 4300, "cost_usd": "0.043000",
    }  # fmt: skip
    days = {day["day"]: day for day in body["runs_per_day"]}
    assert list(days) == ["2026-11-09", "2026-11-10", "2026-11-11"]
    assert days["2026-11-09"] == {
        "day": "2026-11-09", "succeeded": 0, "failed": 0, "cancelled": 0, "denied": 0, "in_progress": 0,
    }  # fmt: skip
    assert (days["2026-11-10"]["succeeded"], days["2026-11-10"]["failed"]) == (1, 1)
    assert (days["2026-11-11"]["succeeded"], days["2026-11-11"]["in_progress"]) == (1, 1)
    assert body["time_to_first_token_ms"] == {"count": 2, "p50": 300, "p95": 900}
    assert body["duration_ms"] == {"count": 3, "p50": 10000, "p95": 30000}
    assert body["approvals"] == {
        "by_decision": {"pending": 0, "approved": 1, "denied": 1, "expired": 0},
        "time_to_decision_ms": {"count": 2, "p50": 20000, "p95": 60000},
    }
    assert body["tools"] == [{"tool": "k8s_get", "calls": 3}, {"tool": "k8s_scale", "calls": 1}]
    assert body["errors"] == [{"code": "llm_unreachable", "runs": 1}]


def _usage(body, group):
    return [(row["label"], row["runs"], row["tokens"], row["cost_usd"]) for row in body["usage"][group]]


def test_it_splits_tokens_and_cost_per_team_user_and_cluster(scene):
    body = as_role(scene.trio, "owner").get(url(scene)).json()
    trio = scene.trio
    assert _usage(body, "team") == [("data", 1, 2500, "0.030000"), ("platform", 2, 1700, "0.012000")]
    assert _usage(body, "user") == [
        (trio.viewer.email, 1, 2500, "0.030000"),
        (trio.operator.email, 2, 1700, "0.012000"),
        (trio.admin.email, 1, 100, "0.001000"),
    ]
    assert _usage(body, "cluster") == [("prod", 3, 3800, "0.041000"), ("staging", 1, 500, "0.002000")]


def test_it_answers_only_the_groups_asked_for(scene):
    body = as_role(scene.trio, "admin").get(url(scene, PERIOD + "&group_by=cluster,user")).json()
    assert set(body["usage"]) == {"cluster", "user"}
    response = as_role(scene.trio, "admin").get(url(scene, PERIOD + "&group_by=planet"))
    assert response.status_code == 400
    assert "group_by" in response.json()


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=2026-11-12&to=2026-11-11", "from"), ("from=yesterday", "from"), ("from=2024-01-01&to=2026-01-01", "from")],
)
def test_it_refuses_a_bad_period(floor, query, field):
    response = as_role(floor.trio, "admin").get(url(floor, query))
    assert response.status_code == 400
    assert field in response.json()


def test_it_is_for_admins_and_owners(scene):
    assert_refused(scene.trio, "get", url(scene), min_role="admin")
    for role in ("admin", "owner"):
        assert as_role(scene.trio, role).get(url(scene)).status_code == 200
    assert APIClient().get(url(scene)).status_code == 401


def test_a_team_it_is_shared_with_sees_it_whatever_its_role(scene):
    trio = scene.trio
    share = f"/api/v1/orgs/{trio.org.slug}/teams/{scene.data.id}/insights-access/"
    assert_refused(trio, "put", share, min_role="admin", data={"shared": True})
    assert bearer_client(trio.viewer).get(url(scene)).status_code == 403
    assert as_role(trio, "admin").put(share, {"shared": True}, format="json").status_code == 204
    response = bearer_client(trio.viewer).get(url(scene))
    assert response.status_code == 200
    assert response.json()["totals"]["runs"] == 4
    assert bearer_client(trio.operator).get(url(scene)).status_code == 403  # not in the data team
    assert as_role(trio, "admin").put(share, {"shared": False}, format="json").status_code == 204
    assert bearer_client(trio.viewer).get(url(scene)).status_code == 403


def test_it_reads_in_a_fixed_number_of_queries(scene):
    client = as_role(scene.trio, "admin")
    client.get(url(scene))  # warm caches (content types)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(scene)).status_code == 200
    for n in range(20):
        scene.run(at=DAY + dt.timedelta(minutes=n), by=scene.trio.viewer, cluster=scene.staging, prompt_tokens=n)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url(scene)).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries) <= 16
