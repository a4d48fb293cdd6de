"""GET /api/v1/orgs/{slug}/audit/export/: the audit log of a period as CSV or JSON lines, streamed (admin+)."""

import csv
import datetime as dt
import io
import json

import pytest

from insights.audit_export import FIELDS
from orgs.models import AuditEvent
from orgs.tests.matrix import as_role, assert_refused
from workflows.models import Run

pytestmark = pytest.mark.django_db


def export_url(trio, query: str = "") -> str:
    return f"/api/v1/orgs/{trio.org.slug}/audit/export/?{query}"


def body(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def decided(floor):
    """The operator's run asked to scale; the admin approved it through the API, with a reason."""
    now = dt.datetime.now(dt.UTC)
    run = floor.run(at=now, status=Run.Status.AWAITING_APPROVAL)
    approval = floor.approval(run, "pending", 0)
    decision = {"decision": "approve", "reason": '=HYPERLINK("http://evil") sale today'}
    response = as_role(floor.trio, "admin").post(f"/api/v1/approvals/{approval.id}/decide/", decision, format="json")
    assert response.status_code == 200, response.content
    AuditEvent.objects.create(org=floor.trio.org, action="old.event", created_at=now - dt.timedelta(days=90))
    return floor, run, approval


def test_it_exports_csv_with_who_asked_who_decided_what_ran_and_where(decided):
    floor, run, approval = decided
    trio = floor.trio
    response = as_role(trio, "admin").get(export_url(trio, "output=csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith(f'attachment; filename="skyflo-audit-{trio.org.slug}-')
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert "old.event" not in [row["action"] for row in rows]  # outside the last 30 days
    approved = next(row for row in rows if row["action"] == "approval.approved")
    assert tuple(approved) == FIELDS
    assert approved["actor"] == approved["decided_by"] == trio.admin.email
    assert approved["asked_by"] == trio.operator.email
    assert (approved["decision"], approved["tool"], approved["cluster"]) == ("approved", "k8s_scale", "prod")
    assert json.loads(approved["args"]) == {"name": "web", "replicas": 3}
    assert approved["run"] == str(run.id)
    assert approved["reason"] == '\'=HYPERLINK("http://evil") sale today'  # never a formula in a spreadsheet


def test_it_exports_json_lines_of_a_period(decided):
    floor, run, _ = decided
    trio = floor.trio
    today = dt.datetime.now(dt.UTC).date()
    query = f"output=jsonl&from={today - dt.timedelta(days=120)}&to={today}"
    response = as_role(trio, "owner").get(export_url(trio, query))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in body(response).splitlines()]
    assert [line["action"] for line in lines][0] == "old.event"  # oldest first
    approved = next(line for line in lines if line["action"] == "approval.approved")
    assert approved["reason"] == '=HYPERLINK("http://evil") sale today'  # data, as it was written
    assert (approved["asked_by"], approved["cluster"], approved["args"]) == (
        trio.operator.email, "prod", {"name": "web", "replicas": 3},
    )  # fmt: skip


def test_it_records_the_address_of_who_acted(floor):
    trio = floor.trio
    budget = {"kind": "tokens", "monthly_limit": "5"}
    as_role(trio, "admin").put(f"/api/v1/orgs/{trio.org.slug}/budgets/", budget, format="json", REMOTE_ADDR="10.1.2.3")
    lines = body(as_role(trio, "admin").get(export_url(trio, "output=jsonl"))).splitlines()
    row = next(json.loads(line) for line in lines if json.loads(line)["action"] == "budget.set")
    assert (row["actor"], row["client_ip"]) == (trio.admin.email, "10.1.2.3")


def test_it_is_for_admins_and_owners(decided):
    floor, _, _ = decided
    assert_refused(floor.trio, "get", export_url(floor.trio, "output=jsonl"), min_role="admin")


def test_it_refuses_an_unknown_output_or_period(floor):
    client = as_role(floor.trio, "admin")
    assert client.get(export_url(floor.trio, "output=xlsx")).status_code == 400
    assert client.get(export_url(floor.trio, "from=2020-01-01&to=2026-01-01")).status_code == 400
