"""/orgs/{slug}/members/: members see each other; admins manage non-owners; there is always an owner."""

from guardian.shortcuts import assign_perm

from orgs.models import AuditEvent, Membership, Role
from orgs.tests.matrix import as_role, assert_refused
from tests.accounts import make_cluster, make_member, make_team


def _url(trio, user=None):
    base = f"/api/v1/orgs/{trio.org.slug}/members/"
    return base if user is None else f"{base}{Membership.objects.get(org=trio.org, user=user).pk}/"


def _roles(trio):
    return dict(Membership.objects.filter(org=trio.org).values_list("user__email", "role"))


def test_it_lists_members_to_members(trio):
    assert_refused(trio, "get", _url(trio), min_role=Role.VIEWER)
    results = as_role(trio, "viewer").get(_url(trio)).json()["results"]
    assert sorted(m["user"]["email"] for m in results) == sorted(_roles(trio))


def test_it_changes_roles_for_admins(trio):
    url = _url(trio, trio.viewer)
    assert_refused(trio, "patch", url, min_role=Role.ADMIN, data={"role": "operator"}, snapshot=lambda: _roles(trio))
    response = as_role(trio, "admin").patch(url, {"role": "operator"}, format="json")
    assert response.status_code == 200
    assert _roles(trio)[trio.viewer.email] == Role.OPERATOR
    event = AuditEvent.objects.get(action="member.role_changed")
    assert event.data == {"user": trio.viewer.email, "from": "viewer", "to": "operator"}


def test_it_keeps_owner_changes_to_owners(trio):
    before = _roles(trio)
    admin = as_role(trio, "admin")
    assert admin.patch(_url(trio, trio.viewer), {"role": "owner"}, format="json").status_code == 403
    assert admin.patch(_url(trio, trio.owner), {"role": "viewer"}, format="json").status_code == 403
    assert admin.delete(_url(trio, trio.owner)).status_code == 403
    assert _roles(trio) == before
    assert as_role(trio, "owner").patch(_url(trio, trio.admin), {"role": "owner"}, format="json").status_code == 200


def test_it_always_keeps_one_owner(trio):
    owner = as_role(trio, "owner")
    assert owner.patch(_url(trio, trio.owner), {"role": "admin"}, format="json").status_code == 409
    assert owner.delete(_url(trio, trio.owner)).status_code == 409
    assert _roles(trio)[trio.owner.email] == Role.OWNER


def test_it_removes_members_with_their_teams_and_grants(trio):
    leaver = make_member(trio.org, Role.OPERATOR)
    team = make_team(trio.org, "payments", (leaver,))
    cluster = make_cluster(trio.org)
    assign_perm("orgs.use_cluster", leaver, cluster)
    url = _url(trio, leaver)
    assert_refused(trio, "delete", url, min_role=Role.ADMIN, snapshot=lambda: _roles(trio))
    assert as_role(trio, "admin").delete(url).status_code == 204
    assert leaver.email not in _roles(trio)
    assert list(team.members) == []
    assert not leaver.has_perm("orgs.use_cluster", cluster)
    assert AuditEvent.objects.filter(action="member.removed", data__user=leaver.email).exists()


def test_it_lets_a_member_leave(trio):
    other = make_member(trio.org, Role.VIEWER)
    assert as_role(trio, "viewer").delete(_url(trio, other)).status_code == 403
    assert as_role(trio, "viewer").delete(_url(trio, trio.viewer)).status_code == 204
    assert trio.viewer.email not in _roles(trio)
