"""Who may use a cluster, and who may have the agent plan changes on it (the run's tool policy asks this)."""

from guardian.shortcuts import assign_perm

from orgs.models import Role
from orgs.selectors import cluster_can_request_changes, cluster_can_use
from tests.accounts import make_cluster, make_member, make_team


def test_a_grant_on_another_cluster_gives_nothing_on_this_one(trio):
    staging, prod = make_cluster(trio.org, "staging"), make_cluster(trio.org, "prod")
    assign_perm("orgs.use_cluster", trio.operator, staging)
    assign_perm("orgs.operate_cluster", make_team(trio.org, "sre", (trio.viewer,)).group, staging)

    assert cluster_can_use(user=trio.operator, cluster=staging)
    assert cluster_can_use(user=trio.viewer, cluster=staging)
    assert not cluster_can_use(user=trio.operator, cluster=prod)
    assert not cluster_can_use(user=trio.viewer, cluster=prod)
    assert not cluster_can_request_changes(user=trio.operator, cluster=prod)


def test_changes_need_an_operator_who_may_use_a_writable_cluster(trio):
    cluster = make_cluster(trio.org, "staging")
    team_operator = make_member(trio.org, Role.OPERATOR)
    make_team(trio.org, "payments", (team_operator, trio.viewer))
    assign_perm("orgs.use_cluster", make_team(trio.org, "sre", (team_operator, trio.viewer)).group, cluster)
    assign_perm("orgs.use_cluster", trio.operator, cluster)
    ungranted_operator = make_member(trio.org, Role.OPERATOR)

    assert cluster_can_request_changes(user=trio.operator, cluster=cluster)  # granted directly
    assert cluster_can_request_changes(user=team_operator, cluster=cluster)  # through a team
    assert cluster_can_request_changes(user=trio.admin, cluster=cluster)  # admins use every cluster of the org
    assert not cluster_can_request_changes(user=trio.viewer, cluster=cluster)  # may use it, but read-only
    assert not cluster_can_request_changes(user=ungranted_operator, cluster=cluster)
    assert not cluster_can_request_changes(user=trio.outsider, cluster=cluster)

    cluster.read_only = True
    cluster.save()
    assert not cluster_can_request_changes(user=trio.operator, cluster=cluster)
    assert not cluster_can_request_changes(user=trio.admin, cluster=cluster)
    assert cluster_can_use(user=trio.operator, cluster=cluster)


def test_a_disabled_account_uses_nothing(trio):
    cluster = make_cluster(trio.org, "staging")
    assign_perm("orgs.use_cluster", trio.operator, cluster)
    trio.operator.is_active = False
    trio.operator.save()

    assert not cluster_can_use(user=trio.operator, cluster=cluster)
    assert not cluster_can_request_changes(user=trio.operator, cluster=cluster)
