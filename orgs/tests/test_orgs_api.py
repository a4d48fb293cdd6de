"""/orgs/ and /orgs/{slug}/: list mine, create, read, update and delete (owner), transfer ownership (owner)."""

from django.contrib.auth.models import Group

from orgs.models import AuditEvent, Membership, Organization, Role, Team
from orgs.tests.matrix import as_role, assert_refused
from tests.accounts import bearer_client, make_team


def _url(trio):
    return f"/api/v1/orgs/{trio.org.slug}/"


def _org_row(trio):
    return list(Organization.objects.filter(pk=trio.org.pk).values("name", "four_eyes"))


def test_it_lists_only_my_orgs(trio, anon_client):
    assert anon_client.get("/api/v1/orgs/").status_code == 401
    body = bearer_client(trio.viewer).get("/api/v1/orgs/").json()
    assert [(o["slug"], o["role"]) for o in body["results"]] == [(trio.org.slug, "viewer")]
    assert body["next"] is None


def test_it_creates_an_org_owned_by_its_creator(trio, anon_client):
    assert anon_client.post("/api/v1/orgs/", {"name": "New"}, format="json").status_code == 401
    response = bearer_client(trio.viewer).post("/api/v1/orgs/", {"name": "Side Project"}, format="json")
    assert response.status_code == 201
    org = Organization.objects.get(slug="side-project")
    assert Membership.objects.get(org=org).user == trio.viewer
    assert Membership.objects.get(org=org).role == Role.OWNER
    assert AuditEvent.objects.filter(org=org, action="org.created").exists()


def test_it_reads_the_org_for_members_only(trio):
    assert_refused(trio, "get", _url(trio), min_role=Role.VIEWER)
    assert as_role(trio, "viewer").get(_url(trio)).json()["slug"] == trio.org.slug


def test_it_updates_the_org_for_owners_only(trio):
    body = {"name": "Renamed", "four_eyes": True}
    assert_refused(trio, "patch", _url(trio), min_role=Role.OWNER, data=body, snapshot=lambda: _org_row(trio))
    response = as_role(trio, "owner").patch(_url(trio), body, format="json")
    assert response.status_code == 200
    assert _org_row(trio) == [{"name": "Renamed", "four_eyes": True}]
    assert AuditEvent.objects.filter(org=trio.org, action="org.updated").exists()


def test_it_deletes_the_org_for_owners_only(trio):
    team = make_team(trio.org, "payments", (trio.viewer,))
    assert_refused(trio, "delete", _url(trio), min_role=Role.OWNER, snapshot=lambda: _org_row(trio))
    assert as_role(trio, "owner").delete(_url(trio)).status_code == 204
    assert not Organization.objects.filter(pk=trio.org.pk).exists()
    assert not Team.objects.filter(pk=team.pk).exists()
    assert not Group.objects.filter(pk=team.group_id).exists()
    assert AuditEvent.objects.filter(org_slug=trio.org.slug, action="org.deleted").exists()


def test_it_transfers_ownership_for_owners_only(trio):
    url = _url(trio) + "transfer-ownership/"
    body = {"user": str(trio.operator.pk)}

    def roles():
        return dict(Membership.objects.filter(org=trio.org).values_list("user__email", "role"))

    assert_refused(trio, "post", url, min_role=Role.OWNER, data=body, snapshot=roles)
    assert as_role(trio, "owner").post(url, body, format="json").status_code == 200
    assert roles()[trio.operator.email] == Role.OWNER
    assert roles()[trio.owner.email] == Role.ADMIN
    assert as_role(trio, "owner").post(url, {"user": str(trio.outsider.pk)}, format="json").status_code == 403
