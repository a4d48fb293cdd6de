"""Fixtures of the harness tests: an organisation with an owner and an eval operator who may approve on a cluster
of the session's tool server."""

import pytest
from guardian.shortcuts import assign_perm

from orgs.models import Role
from tests.accounts import make_cluster, make_member, make_org, make_team


@pytest.fixture
def eval_org(live_db, toolserver):
    org = make_org()
    owner = make_member(org, Role.OWNER)
    operator = make_member(org, Role.OPERATOR)
    team = make_team(org, "eval operators", (operator,))
    cluster = make_cluster(org, url=toolserver.url, token=toolserver.token)
    assign_perm("orgs.use_cluster", operator, cluster)
    assign_perm("orgs.operate_cluster", operator, cluster)
    return org, owner, operator, team, cluster
