"""/orgs/{slug}/teams/ and team members: members read, admins write."""

from orgs.models import AuditEvent, Role, Team
from orgs.tests.matrix import as_role, assert_refused
from tests.accounts import make_team


def _teams(trio):
    return sorted(Team.objects.filter(org=trio.org).values_list("name", flat=True))


def _base(trio):
    return f"/api/v1/orgs/{trio.org.slug}/teams/"


def test_it_lists_teams_to_members(trio):
    make_team(trio.org, "payments")
    assert_refused(trio, "get", _base(trio), min_role=Role.VIEWER)
    assert [t["name"] for t in as_role(trio, "viewer").get(_base(trio)).json()["results"]] == ["payments"]


def test_it_creates_teams_for_admins(trio):
    body = {"name": "payments"}
    assert_refused(trio, "post", _base(trio), min_role=Role.ADMIN, data=body, snapshot=lambda: _teams(trio))
    response = as_role(trio, "admin").post(_base(trio), body, format="json")
    assert response.status_code == 201
    assert _teams(trio) == ["payments"]
    assert AuditEvent.objects.filter(action="team.created", org=trio.org).exists()
    assert as_role(trio, "admin").post(_base(trio), body, format="json").status_code == 400


def test_it_renames_and_deletes_teams_for_admins(trio):
    team = make_team(trio.org, "payments")
    url = f"{_base(trio)}{team.pk}/"
    assert_refused(trio, "patch", url, min_role=Role.ADMIN, data={"name": "x"}, snapshot=lambda: _teams(trio))
    assert as_role(trio, "admin").patch(url, {"name": "billing"}, format="json").status_code == 200
    assert _teams(trio) == ["billing"]
    assert_refused(trio, "delete", url, min_role=Role.ADMIN, snapshot=lambda: _teams(trio))
    assert as_role(trio, "admin").delete(url).status_code == 204
    assert _teams(trio) == []
    assert AuditEvent.objects.filter(action="team.deleted").exists()


def test_it_adds_and_removes_team_members_for_admins(trio):
    team = make_team(trio.org, "payments")
    url = f"{_base(trio)}{team.pk}/members/"

    def members():
        return sorted(team.members.values_list("email", flat=True))

    body = {"user": str(trio.viewer.pk)}
    assert_refused(trio, "post", url, min_role=Role.ADMIN, data=body, snapshot=members)
    assert as_role(trio, "admin").post(url, body, format="json").status_code == 201
    assert members() == [trio.viewer.email]
    assert as_role(trio, "admin").post(url, body, format="json").status_code == 409
    outsider = {"user": str(trio.outsider.pk)}
    assert as_role(trio, "admin").post(url, outsider, format="json").status_code == 400
    assert_refused(trio, "get", url, min_role=Role.VIEWER)
    assert [u["email"] for u in as_role(trio, "viewer").get(url).json()["results"]] == [trio.viewer.email]
    member_url = f"{url}{trio.viewer.pk}/"
    assert_refused(trio, "delete", member_url, min_role=Role.ADMIN, snapshot=members)
    assert as_role(trio, "admin").delete(member_url).status_code == 204
    assert members() == []
    actions = list(AuditEvent.objects.filter(org=trio.org).values_list("action", flat=True))
    assert {"team.member_added", "team.member_removed"} <= set(actions)
