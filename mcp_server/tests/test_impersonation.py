"""Acting as the person: the tool server (a real process, over streamable HTTP) runs kubectl as the person named by the
call's signed identity assertion, against the sandbox that enforces tokens, impersonation and RBAC. Assertions that
are missing, forged, expired, replayed or meant for another call are refused before anything runs."""

import time

import pytest

from mcp_server.identity import META_KEY, assertion_sign
from mcp_server.tests.conftest import http_session, text_of
from sandbox.tests.manifests import as_input, binding, deployment, role, rule

KEY = "k" * 40
SERVER_IDENTITY = "sandbox-admin"  # the tool server's kubeconfig user (sandbox/rbac.py)


@pytest.fixture
def acting_server(toolserver_factory):
    return toolserver_factory(env={"MCP_IMPERSONATION_KEY": KEY})


@pytest.fixture
def carol(sandbox_cluster, k8s_namespace) -> str:
    """A person the cluster's RBAC lets read pods and scale deployments in the namespace, but not read Secrets."""
    ns, name = k8s_namespace, f"carol@{k8s_namespace}.example.com"
    rules = [rule(["get", "list"], ["pods"]), rule(["get", "patch", "update"], ["deployments", "deployments/scale"])]
    rules[1]["apiGroups"] = ["apps"]
    reader = role("carol", rules, ns)
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(reader, binding("carol", reader, [("User", name)], ns)))
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(ns, "web", replicas=1)))
    return name


def signed(tool: str, args: dict, *, user: str, key: str = KEY, approver: str | None = None, **claims) -> dict:
    token = assertion_sign(
        key.encode(), user=user, groups=["skyflo:team:ops"], call_id="r:0:s1:1", tool=tool, args=args,
        approver=approver, **claims,
    )  # fmt: skip
    return {META_KEY: token}


async def test_it_runs_the_call_as_the_person_and_the_clusters_rbac_answers_for_them(
    acting_server, sandbox_cluster, k8s_namespace, carol
):
    ns = k8s_namespace
    pods_args, secrets_args = {"kind": "pods", "namespace": ns}, {"kind": "secrets", "namespace": ns}
    start, _ = sandbox_cluster.requests_after(0)
    async with http_session(acting_server) as session:
        pods = await session.call_tool("k8s_get", pods_args, meta=signed("k8s_get", pods_args, user=carol))
        secrets = await session.call_tool("k8s_get", secrets_args, meta=signed("k8s_get", secrets_args, user=carol))
    _, entries = sandbox_cluster.requests_after(start)

    assert not pods.is_error, text_of(pods)
    assert f"--as={carol}" in pods.structured_content["command"]
    assert secrets.is_error
    assert f'secrets is forbidden: User "{carol}" cannot list resource "secrets"' in text_of(secrets)
    mine = [e for e in entries if e["namespace"] == ns and e["resource"] in ("pods", "secrets")]
    assert {(e["resource"], e["user"], e["impersonated_by"]) for e in mine} == {
        ("pods", carol, SERVER_IDENTITY),
        ("secrets", carol, SERVER_IDENTITY),
    }
    assert {e["status"] for e in mine if e["resource"] == "secrets"} == {403}


async def test_a_mutating_call_runs_as_the_requester_and_needs_the_approver_named(
    acting_server, sandbox_cluster, k8s_namespace, carol
):
    ns = k8s_namespace
    args = {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 2}
    async with http_session(acting_server) as session:
        unapproved = await session.call_tool("k8s_scale", args, meta=signed("k8s_scale", args, user=carol))
        approved = await session.call_tool(
            "k8s_scale", args, meta=signed("k8s_scale", args, user=carol, approver="dave@example.com")
        )

    assert unapproved.is_error
    assert "names no approver for a call that changes the cluster" in text_of(unapproved)
    assert not approved.is_error, text_of(approved)
    scales = [c for c in sandbox_cluster.changes(f"/namespaces/{ns}/deployments/web") if c["status"] < 300]
    assert [(c["user"], c["impersonated_by"]) for c in scales] == [(carol, SERVER_IDENTITY)]
    assert sandbox_cluster.get_json("deployment", "web", ns)["spec"]["replicas"] == 2


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        (None, "the call carries none"),
        ("forged", "its signature is wrong"),
        ("expired", "it has expired"),
        ("other-call", "it was issued for another call"),
        ("long-lived", "its validity period is not acceptable"),
        ("system", "a name reserved for Kubernetes itself"),
        ("garbage", "it is malformed"),
    ],
)
async def test_a_call_without_a_valid_assertion_is_refused_and_nothing_reaches_the_cluster(
    acting_server, sandbox_cluster, k8s_namespace, meta, reason
):
    args = {"kind": "pods", "namespace": k8s_namespace}
    person = f"eve@{k8s_namespace}.example.com"
    metas = {
        None: None,
        "forged": signed("k8s_get", args, user=person, key="x" * 40),
        "expired": signed("k8s_get", args, user=person, now=time.time() - 120, ttl_s=60),
        "other-call": signed("k8s_get", {**args, "namespace": "kube-system"}, user=person),
        "long-lived": signed("k8s_get", args, user=person, ttl_s=3600),
        "system": signed("k8s_get", args, user="system:admin"),
        "garbage": {META_KEY: "not.an-assertion.at-all"},
    }
    start, _ = sandbox_cluster.requests_after(0)
    async with http_session(acting_server) as session:
        result = await session.call_tool("k8s_get", args, meta=metas[meta])
    _, entries = sandbox_cluster.requests_after(start)

    assert result.is_error
    assert "identity assertion is refused" in text_of(result)
    assert reason in text_of(result)
    assert not [e for e in entries if e["namespace"] == k8s_namespace]


async def test_a_replayed_assertion_is_refused(acting_server, sandbox_cluster, k8s_namespace, carol):
    args = {"kind": "pods", "namespace": k8s_namespace}
    meta = signed("k8s_get", args, user=carol)
    async with http_session(acting_server) as session:
        first = await session.call_tool("k8s_get", args, meta=meta)
    async with http_session(acting_server) as other:
        replay = await other.call_tool("k8s_get", args, meta=meta)

    assert not first.is_error
    assert replay.is_error
    assert "it was used already" in text_of(replay)


async def test_as_stays_refused_as_a_tool_argument(acting_server, k8s_namespace, carol):
    args = {"kind": "pods", "namespace": k8s_namespace, "selector": "--as=system:admin"}
    async with http_session(acting_server) as session:
        result = await session.call_tool("k8s_get", args, meta=signed("k8s_get", args, user=carol))

    assert result.is_error
    assert "--as" in text_of(result)
    assert "Nothing ran" in text_of(result)
