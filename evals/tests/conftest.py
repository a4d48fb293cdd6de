"""Fixtures of the harness tests: an organisation with an owner and an eval operator who may approve on a cluster
of the session's tool server; for the Helm scenarios, the eval charts served as a helm repository and a tool server
that takes charts from it only."""

from collections.abc import Iterator

import pytest
from guardian.shortcuts import assign_perm

from evals.chartrepo import charts_served
from evals.cluster import Cluster
from orgs.models import Role
from tests.accounts import make_cluster, make_member, make_org, make_team


def _org_on(toolserver):
    org = make_org()
    owner = make_member(org, Role.OWNER)
    operator = make_member(org, Role.OPERATOR)
    team = make_team(org, "eval operators", (operator,))
    cluster = make_cluster(org, url=toolserver.url, token=toolserver.token)
    assign_perm("orgs.use_cluster", operator, cluster)
    assign_perm("orgs.operate_cluster", operator, cluster)
    return org, owner, operator, team, cluster


@pytest.fixture
def eval_org(live_db, toolserver):
    return _org_on(toolserver)


@pytest.fixture(scope="module")
def eval_charts(sandbox_cluster) -> Iterator[str]:
    """The URL of the eval charts' repository, served by the harness's own code for the module's tests."""
    cluster = Cluster(sandbox_cluster.kubeconfig, sandbox_cluster.env)
    try:
        with charts_served(cluster) as url:
            yield url
    finally:
        cluster.close()


@pytest.fixture
def helm_eval_org(live_db, toolserver_factory, eval_charts, sandbox_cluster, monkeypatch):
    """`eval_org` on a tool server whose MCP_HELM_REPOSITORIES is the eval charts' repository alone; the harness's
    helm shares the tool server's release storage, as evals/README.md asks of an operator."""
    for key in ("HELM_DRIVER", "HELM_DRIVER_SQL_CONNECTION_STRING"):
        monkeypatch.setenv(key, sandbox_cluster.env[key])
    return _org_on(toolserver_factory(env={"MCP_HELM_REPOSITORIES": eval_charts}))
