"""Acting as the person, end to end: the live stack (web, worker, beat) on a cluster connection that acts as the person,
its tool server holding the connection's key, against the sandbox that enforces impersonation and RBAC. The
cluster's RBAC answers for the person who asked (their team is a group), and its audit names them."""

import json

import pytest

from mcp_server.identity import AUDIENCE, META_KEY
from sandbox.tests.manifests import as_input, binding, role, rule
from tests.accounts import make_team
from tests.live import shop_make
from tests.scripted_llm import call, plan, say, verdict

pytestmark = pytest.mark.e2e
KEY = "an-impersonation-key-for-the-tests-0123456789"
TOOL_SERVER = "sandbox-admin"  # the tool server's own identity in the sandbox (sandbox/rbac.py)


def act_as_the_person(shop, key: str = KEY):
    shop.cluster.impersonate = True
    shop.cluster.impersonation_key = key
    shop.cluster.full_clean()
    shop.cluster.save()


@pytest.fixture
def shop(live_db, live_stack, toolserver_factory, sandbox_cluster):
    """The live shop on a tool server that acts as the person. The operator is in team "Ops Crew", whose group the
    cluster's RBAC lets read pods and deployments and scale them in the shop's namespace, and nothing else."""
    shop = shop_make(live_stack, toolserver_factory(env={"MCP_IMPERSONATION_KEY": KEY}), sandbox_cluster)
    act_as_the_person(shop)
    make_team(shop.org, "Ops Crew", members=(shop.operator,))
    ns = shop.namespace
    apps = rule(["get", "list", "patch", "update"], ["deployments", "deployments/scale"], groups=("apps",))
    ops = role("ops", [rule(["get", "list"], ["pods"]), apps], ns)
    sandbox_cluster.kubectl(
        "apply", "-f", "-", input=as_input(ops, binding("ops", ops, [("Group", "skyflo:team:ops-crew")], ns))
    )
    return shop


def test_a_person_the_clusters_rbac_forbids_secrets_gets_its_forbidden_and_the_audit_names_them(shop, live_llm):
    ns, person = shop.namespace, shop.operator.email
    live_llm.set_script(
        [
            plan([("List the secrets", "k8s_get")]),
            call("k8s_get", {"kind": "secrets", "namespace": ns}),
            verdict(True, "the cluster refused"),
            say("The cluster does not let you list Secrets here.", agent="responder"),
        ]
    )
    with shop.socket() as events:
        shop.ask("which secrets are there?")
        events.until("run.finished")

    result = events.until("tool.result")["data"]
    assert result["ok"] is False
    assert f'secrets is forbidden: User "{person}" cannot list resource "secrets"' in result["output"]
    asked = [r for r in shop.sandbox.requests_log(f"/namespaces/{ns}/secrets") if r["method"] == "GET"]
    assert asked
    assert {(r["user"], r["impersonated_by"], r["status"]) for r in asked} == {(person, TOOL_SERVER, 403)}
    assert all("skyflo:team:ops-crew" in r["groups"] for r in asked)
    # The assertion travels beside the call, never through the model nor to the browser.
    seen = json.dumps([live_llm.requests(), events.frames])
    assert META_KEY not in seen
    assert AUDIENCE not in seen


def test_an_approved_scale_runs_as_the_person_who_asked(shop, live_llm):
    ns = shop.namespace
    live_llm.set_script(
        [
            plan([("Scale web to 2", "k8s_scale")]),
            call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 2}),
            verdict(True, "web has 2 replicas"),
            say("Scaled web to 2.", agent="responder"),
        ]
    )
    with shop.socket() as events:
        shop.ask("scale web to 2")
        approval = events.until("approval.requested")["data"]
        assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
        assert events.until("run.finished")["data"]["status"] == "succeeded"

    assert shop.replicas()[0] == 2
    changes = [c for c in shop.sandbox.changes(f"/namespaces/{ns}/deployments/web") if c["status"] < 300]
    assert changes
    assert {(c["user"], c["impersonated_by"]) for c in changes} == {(shop.operator.email, TOOL_SERVER)}


def test_an_approval_never_lends_the_approvers_rights(shop, live_llm):
    # The viewer may not change anything in Skyflo; operator2 may, but the cluster's RBAC knows neither: operator2
    # asks, the operator (whose team may scale) approves, and the cluster still answers for operator2.
    ns = shop.namespace
    from guardian.shortcuts import assign_perm

    assign_perm("orgs.operate_cluster", shop.operator2, shop.cluster)
    live_llm.set_script(
        [
            plan([("Scale web to 3", "k8s_scale")]),
            call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 3}),
            verdict(True, "the cluster refused"),
            say("The cluster does not let you scale web.", agent="responder"),
        ]
    )
    with shop.socket(shop.operator2) as events:
        shop.ask("scale web to 3", user=shop.operator2)
        approval = events.until("approval.requested")["data"]
        assert shop.decide(approval["approval_id"], "approve", user=shop.operator).status_code == 200
        events.until("run.finished")

    result = events.until("tool.result")["data"]
    assert result["ok"] is False
    assert f'User "{shop.operator2.email}" cannot' in result["output"]
    assert shop.replicas()[0] == 1


def test_a_tool_server_that_does_not_take_identities_runs_nothing(live_db, live_stack, toolserver, sandbox_cluster):
    shop = shop_make(live_stack, toolserver, sandbox_cluster)
    act_as_the_person(shop)
    with shop.socket() as events:
        shop.ask("which pods run here?")
        error = events.until("run.error")["data"]

    assert error["code"] == "tool_server_unreachable"
    assert error["detail"] == (
        "This cluster connection acts as the person, but its tool server does not take identities "
        "(MCP_IMPERSONATION_KEY is not set there), so nothing was run."
    )
