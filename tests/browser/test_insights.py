"""The insights page in Chromium: every chart is drawn (under the site's CSP), its numbers are the API's, the
tables say the same, the audit export downloads through daphne; screenshots at 1280 and 390 px."""

import datetime as dt
import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import NARROW, WIDE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CANVASES = [
    "chart-runs",
    "chart-approvals",
    "chart-usage-team",
    "chart-usage-user",
    "chart-usage-cluster",
    "chart-tools",
]


@pytest.fixture
def office(live_db, password_hash):
    """An organisation with a week of runs (committed rows: the live daphne reads them)."""
    from guardian.shortcuts import assign_perm

    from chats.models import Conversation
    from insights.tests.conftest import Floor
    from orgs.models import Role
    from tests.accounts import OrgTrio, make_cluster, make_member, make_org, make_team

    org, other = make_org(), make_org()
    people = {role: make_member(org, role) for role in ("owner", "admin", "operator", "viewer")}
    trio = OrgTrio(org=org, outsider=make_member(other, Role.VIEWER), **people)
    type(trio.owner).objects.filter(pk=trio.owner.pk).update(password=password_hash)
    prod, staging = make_cluster(org, "prod"), make_cluster(org, "staging")
    conversation = Conversation.objects.create(org=org, cluster=prod, owner=trio.operator)
    assign_perm("chats.view_conversation", trio.admin, conversation)
    floor = Floor(
        trio, prod, staging, make_team(org, "platform", (trio.operator,)), make_team(org, "data", (trio.viewer,)),
        conversation,
    )  # fmt: skip
    _week(floor)
    return floor


def _week(floor) -> None:
    today = dt.datetime.now(dt.UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    trio = floor.trio
    for n in range(7):
        day = today - dt.timedelta(days=n)
        for k in range(n % 3 + 1):
            by = (trio.operator, trio.viewer, trio.admin)[k]
            cluster = floor.staging if k == 2 else None
            run = floor.run(
                at=day + dt.timedelta(minutes=k), by=by, cluster=cluster, prompt_tokens=1000 * (k + 1),
                completion_tokens=200, cost_usd=f"0.0{k + 1}", seconds=5 + n,
            )  # fmt: skip
            floor.first_token(run, 200 + 100 * k)
            floor.tool_call(run, ("k8s_get", "k8s_scale", "helm_list")[k], 2)
        failed = floor.run(at=day + dt.timedelta(hours=1), status="failed", error_code="llm_rate_limited", seconds=2)
        floor.approval(failed, ("approved", "denied", "expired")[n % 3], 30 + n)


def _drawn_pixels(page, canvas_id: str) -> int:
    return page.evaluate(
        """(id) => { const c = document.getElementById(id); const d = c.getContext('2d')
              .getImageData(0, 0, c.width, c.height).data; let n = 0;
              for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""",
        canvas_id,
    )


def test_the_insights_page_draws_the_apis_numbers(office, pages):
    slug = office.trio.org.slug
    page = pages.login(office.trio.owner, WIDE)
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.get_by_role("link", name="Insights").click()
    expect(page.get_by_role("heading", name=f"{office.trio.org.name} insights")).to_be_visible()
    for canvas in CANVASES:
        expect(page.locator(f"#{canvas}")).to_have_attribute("data-drawn", "true")
        assert _drawn_pixels(page, canvas) > 500, canvas
    api = page.request.get(f"/api/v1/orgs/{slug}/insights/").json()
    assert api["totals"]["runs"] == 7 + sum(n % 3 + 1 for n in range(7))
    for figure in ("totals.runs", "totals.tokens", "totals.cost_usd"):
        expect(page.locator(f'[data-figure="{figure}"]')).to_have_text(str(api["totals"][figure.split(".")[1]]))
    expect(page.locator('[data-figure="time_to_first_token_ms.p50"]')).to_have_text(
        str(api["time_to_first_token_ms"]["p50"])
    )
    by_status = json.loads(page.locator("#chart-runs").get_attribute("data-values"))
    for status in ("succeeded", "failed", "cancelled", "denied", "in_progress"):
        assert by_status[status] == sum(day[status] for day in api["runs_per_day"])
    assert json.loads(page.locator("#chart-approvals").get_attribute("data-values")) == api["approvals"]["by_decision"]
    assert json.loads(page.locator("#chart-tools").get_attribute("data-values")) == {
        row["tool"]: row["calls"] for row in api["tools"]
    }
    team_rows = page.locator("#table-usage-team tbody tr")
    expect(team_rows).to_have_count(len(api["usage"]["team"]))
    for index, row in enumerate(api["usage"]["team"]):
        expect(team_rows.nth(index)).to_contain_text(f"{row['label']}{row['runs']}")
        expect(team_rows.nth(index).locator("td").last).to_have_text(row["cost_usd"])
    assert json.loads(page.locator("#chart-usage-cluster").get_attribute("data-values")) == {
        row["label"]: row["cost_usd"] for row in api["usage"]["cluster"]
    }
    assert problems == []  # among others: no Content-Security-Policy refusal
    screenshot(page, "insights")

    export = page.request.get(f"/api/v1/orgs/{slug}/audit/export/?output=csv")
    assert export.status == 200
    assert export.text().startswith("time,action,actor,client_ip,asked_by,decided_by,decision")

    narrow = pages.login(office.trio.owner, NARROW)
    narrow.goto(f"/orgs/{slug}/insights/")
    for canvas in CANVASES:
        expect(narrow.locator(f"#{canvas}")).to_have_attribute("data-drawn", "true")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    screenshot(narrow, "insights")
