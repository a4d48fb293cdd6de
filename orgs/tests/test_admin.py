"""The Django admin: every orgs model is listed; the cluster token is write-only; the audit log is read-only; the
one-owner rule and a removed member's access are handled as in the API."""

import pytest
from django.test import Client
from guardian.shortcuts import assign_perm

from orgs.models import AuditEvent, ClusterConnection, Membership, Role, Team
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


def test_it_keeps_the_last_owner_when_a_role_is_changed(staff):
    org = make_org()
    owner = make_member(org, Role.OWNER)
    membership = Membership.objects.get(user=owner)
    form = {"user": owner.pk, "org": org.pk, "role": Role.ADMIN}

    response = staff.post(f"/admin/orgs/membership/{membership.pk}/change/", form)

    assert response.status_code == 200
    assert "An organisation always keeps at least one owner." in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.OWNER
    make_member(org, Role.OWNER)  # with a second owner the first may step down
    assert staff.post(f"/admin/orgs/membership/{membership.pk}/change/", form).status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_it_refuses_to_delete_the_last_owner_and_removes_a_member_with_their_access(staff):
    org = make_org()
    owner = Membership.objects.get(user=make_member(org, Role.OWNER))
    viewer = make_member(org, Role.VIEWER)
    team = make_team(org, "sre", members=(viewer,))
    cluster = make_cluster(org)
    assign_perm("orgs.use_cluster", viewer, cluster)

    assert staff.post(f"/admin/orgs/membership/{owner.pk}/delete/", {"post": "yes"}).status_code == 403
    staff.post(
        "/admin/orgs/membership/",
        {"action": "delete_selected", "_selected_action": [owner.pk], "post": "yes"},
    )
    assert Membership.objects.filter(pk=owner.pk).exists()

    membership = Membership.objects.get(user=viewer)
    assert staff.post(f"/admin/orgs/membership/{membership.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Membership.objects.filter(user=viewer).exists()
    assert viewer not in team.group.user_set.all()
    assert not viewer.has_perm("orgs.use_cluster", cluster)
    assert AuditEvent.objects.filter(action="member.deleted", org=org).exists()


def test_it_keeps_an_owner_among_the_inline_memberships_of_an_organisation(staff):
    org = make_org()
    membership = Membership.objects.get(user=make_member(org, Role.OWNER))
    form = {
        "name": org.name,
        "slug": org.slug,
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-0-id": membership.pk,
        "memberships-0-org": org.pk,
        "memberships-0-user": membership.user_id,
        "memberships-0-role": Role.VIEWER,
    }

    response = staff.post(f"/admin/orgs/organization/{org.pk}/change/", form)

    assert response.status_code == 200
    assert "An organisation always keeps at least one owner." in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.OWNER
