"""/orgs/{slug}/clusters/{id}/grants/: admins grant use_cluster / operate_cluster to teams or members."""

from guardian.shortcuts import assign_perm

from orgs import selectors
from orgs.models import AuditEvent, Role
from orgs.tests.matrix import as_role, assert_refused
from tests.accounts import make_cluster, make_member, make_team


def _setup(trio):
    cluster = make_cluster(trio.org, "staging")
    assign_perm("orgs.use_cluster", trio.operator, cluster)  # the operator sees the cluster but may not grant
    return cluster, f"/api/v1/orgs/{trio.org.slug}/clusters/{cluster.pk}/grants/"


def _grants(trio, cluster):
    return [(g.permission, g.team, g.user) for g in selectors.cluster_grant_list(user=trio.owner, cluster=cluster)]


BELOW = {"viewer": 404, "operator": 403}


def test_it_grants_a_team_for_admins(trio):
    cluster, url = _setup(trio)
    team = make_team(trio.org, "payments", (trio.viewer,))
    body = {"team": str(team.pk), "permission": "use_cluster"}
    snapshot = lambda: _grants(trio, cluster)  # noqa: E731
    assert_refused(trio, "post", url, min_role=Role.ADMIN, data=body, below=BELOW, snapshot=snapshot)
    response = as_role(trio, "admin").post(url, body, format="json")
    assert response.status_code == 201
    assert response.json()["team"]["name"] == "payments"
    assert selectors.cluster_can_use(user=trio.viewer, cluster=cluster)
    assert as_role(trio, "admin").post(url, body, format="json").status_code == 409
    event = AuditEvent.objects.get(action="cluster.grant_created")
    assert event.data == {"permission": "use_cluster", "team": "payments", "user": None}


def test_it_grants_operate_to_a_member(trio):
    cluster, url = _setup(trio)
    operator = make_member(trio.org, Role.OPERATOR)
    body = {"user": str(operator.pk), "permission": "operate_cluster"}
    assert as_role(trio, "admin").post(url, body, format="json").status_code == 201
    assert selectors.cluster_can_operate(user=operator, cluster=cluster)
    assert not selectors.cluster_can_operate(user=trio.operator, cluster=cluster)


def test_it_refuses_grants_outside_the_org(trio):
    cluster, url = _setup(trio)
    admin = as_role(trio, "admin")
    assert (
        admin.post(url, {"user": str(trio.outsider.pk), "permission": "use_cluster"}, format="json").status_code == 400
    )
    both = {"user": str(trio.viewer.pk), "team": str(make_team(trio.org, "t").pk), "permission": "use_cluster"}
    assert admin.post(url, both, format="json").status_code == 400
    assert admin.post(url, {"user": str(trio.viewer.pk), "permission": "delete"}, format="json").status_code == 400
    assert _grants(trio, cluster) == [("use_cluster", None, trio.operator)]


def test_it_lists_and_deletes_grants_for_admins(trio):
    cluster, url = _setup(trio)
    assert_refused(trio, "get", url, min_role=Role.ADMIN, below=BELOW)
    results = as_role(trio, "admin").get(url).json()["results"]
    assert [(g["permission"], g["user"]["email"]) for g in results] == [("use_cluster", trio.operator.email)]
    grant_url = f"{url}{results[0]['id']}/"
    snapshot = lambda: _grants(trio, cluster)  # noqa: E731
    assert_refused(trio, "delete", grant_url, min_role=Role.ADMIN, below=BELOW, snapshot=snapshot)
    assert as_role(trio, "admin").delete(grant_url).status_code == 204
    assert _grants(trio, cluster) == []
    assert not selectors.cluster_can_use(user=trio.operator, cluster=cluster)
    assert AuditEvent.objects.filter(action="cluster.grant_deleted").exists()
