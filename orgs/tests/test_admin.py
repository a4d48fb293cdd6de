"""The Django admin: every orgs model is listed; the cluster token is write-only; the audit log is read-only."""

import pytest
from django.test import Client

from orgs.models import AuditEvent, ClusterConnection, Role, Team
from orgs.services import audit_record
from tests.accounts import make_cluster, make_member, make_org, make_team, make_user


@pytest.fixture
def staff(db) -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "model", ["user", "organization", "membership", "team", "invitation", "clusterconnection", "auditevent"]
)
def test_it_lists_every_model(staff, model):
    assert staff.get(f"/admin/orgs/{model}/").status_code == 200


def test_it_never_renders_the_cluster_token(staff):
    cluster = make_cluster(make_org(), token="very-secret-token")
    page = staff.get(f"/admin/orgs/clusterconnection/{cluster.pk}/change/").content.decode()
    assert "very-secret-token" not in page
    assert cluster.mcp_token_encrypted not in page
    assert 'name="new_mcp_server_token"' in page
    assert staff.get(f"/admin/orgs/clusterconnection/{cluster.pk}/permissions/").status_code == 200


def test_it_sets_the_token_from_the_write_only_field_and_audits(staff):
    cluster = make_cluster(make_org(), token="old")
    form = {
        "org": cluster.org_id,
        "name": cluster.name,
        "mcp_server_url": cluster.mcp_server_url,
        "default_namespace": "default",
        "allowed_namespaces": "[]",
        "new_mcp_server_token": "rotated-token",
    }
    response = staff.post(f"/admin/orgs/clusterconnection/{cluster.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    cluster.refresh_from_db()
    assert cluster.mcp_server_token == "rotated-token"
    event = AuditEvent.objects.get(action="cluster.updated")
    assert "new_mcp_server_token" in event.data["changed"]
    form["new_mcp_server_token"] = ""
    staff.post(f"/admin/orgs/clusterconnection/{cluster.pk}/change/", form)
    cluster.refresh_from_db()
    assert cluster.mcp_server_token == "rotated-token"  # empty means keep


def test_it_creates_a_team_with_its_group(staff):
    org = make_org()
    member = make_member(org, Role.VIEWER)
    response = staff.post("/admin/orgs/team/add/", {"org": org.pk, "name": "payments", "members": [member.pk]})
    assert response.status_code == 302
    team = Team.objects.get(org=org)
    assert list(team.members) == [member]
    assert AuditEvent.objects.filter(action="team.created", org=org).exists()
    assert make_team(org, "other").group_id != team.group_id


def test_it_keeps_the_audit_log_read_only(staff):
    event = audit_record(actor=None, org=None, action="auth.login_failed", data={"email": "x@example.com"})
    assert staff.get(f"/admin/orgs/auditevent/{event.pk}/change/").status_code == 200
    assert staff.get("/admin/orgs/auditevent/add/").status_code == 403
    assert staff.post(f"/admin/orgs/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert ClusterConnection.objects.count() == 0
