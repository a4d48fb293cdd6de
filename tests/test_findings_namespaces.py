"""Finding 01: a cluster connection's `allowed_namespaces` confines every tool call of a run, not only the
conversation's creation. The tool server here has no allow-list of its own: only our code stands in the way, and
the sandbox's own request log shows what reached the cluster."""

import json

import pytest

from tests.live import shop_make
from tests.scripted_llm import call, calls, plan, say, verdict

pytestmark = pytest.mark.e2e
LATEST = 2**62  # `requests_after(LATEST)` answers the log's last sequence number and no entries

CONFIGMAP = """{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vault"},
 "data": {"password-hint": "other-namespace-private-4711"}}"""


@pytest.fixture
def confined_shop(live_db, live_stack, toolserver, sandbox_cluster):
    shop = shop_make(live_stack, toolserver, sandbox_cluster)
    shop.cluster.allowed_namespaces = [shop.namespace]
    shop.cluster.save(update_fields=["allowed_namespaces"])
    shop.other = sandbox_cluster.new_namespace("other")
    sandbox_cluster.kubectl("apply", "-n", shop.other, "-f", "-", input=CONFIGMAP)
    return shop


def tool_messages(live_llm) -> list[str]:
    return [m["content"] for r in live_llm.requests() for m in r["messages"] if m.get("role") == "tool"]


def test_finding_01_discovery_calls_stay_in_the_connections_namespaces(confined_shop, live_llm):
    shop, other = confined_shop, confined_shop.other
    seen, _ = shop.sandbox.requests_after(LATEST)
    live_llm.set_script(
        [
            calls(
                [
                    ("k8s_get", {"kind": "configmap", "name": "vault", "namespace": other, "output": "yaml"}),
                    ("k8s_get", {"kind": "configmaps", "all_namespaces": True}),
                    ("k8s_get", {"kind": "nodes"}),
                    ("k8s_describe", {"kind": "clusterrolebindings"}),
                    ("k8s_get", {"kind": "configmap.evil.example.com", "namespace": shop.namespace}),
                    ("k8s_get", {"kind": "configmaps"}),  # no namespace: the conversation's
                ],
                agent="planner",
            ),
            plan([]),
            say("I may only look into this conversation's namespace.", agent="responder"),
        ]
    )
    with shop.socket(shop.viewer) as events:
        shop.ask(f"show me the vault configmap in {other}", user=shop.viewer)
        assert events.until("run.finished")["data"]["status"] == "succeeded"

    _, reached = shop.sandbox.requests_after(seen)
    paths = [r["path"] for r in reached]
    assert not [p for p in paths if f"/namespaces/{other}/" in p]
    assert "/api/v1/configmaps" not in paths  # --all-namespaces
    assert "/api/v1/nodes" not in paths
    assert not [p for p in paths if "clusterrolebindings" in p]
    assert f"/api/v1/namespaces/{shop.namespace}/configmaps" in paths  # the missing namespace = the connection's
    refusals = [m for m in tool_messages(live_llm) if "Refused:" in m]
    assert len(refusals) == 5
    assert all("Traceback" not in m for m in refusals)
    assert "other-namespace-private-4711" not in json.dumps(events.frames)


LIST_MANIFEST = json.dumps(
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "innocent"},
        "items": [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "finding-01-escalate"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}],
            },
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "finding-01-ns"}}],
            },
        ],
    }
)


def test_finding_01_mutating_calls_outside_the_namespaces_are_refused_before_approval(confined_shop, live_llm):
    shop, other = confined_shop, confined_shop.other
    seen, _ = shop.sandbox.requests_after(LATEST)
    live_llm.set_script(
        [
            plan([("Apply the manifest", "k8s_apply"), ("Scale web in the other namespace", "k8s_scale")]),
            call("k8s_apply", {"manifest": LIST_MANIFEST, "namespace": shop.namespace}),
            call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": other, "replicas": 4}),
            verdict(True, "nothing was changed"),
            say("Both changes are outside what this cluster connection allows.", agent="responder"),
        ]
    )
    with shop.socket() as events:
        shop.ask("apply this and scale web in the other namespace")
        assert events.until("run.finished")["data"]["status"] == "failed"
    assert "approval.requested" not in events.types()
    assert [f["data"]["status"] for f in events.of("step.finished")] == ["refused", "refused"]
    offered = {t["function"]["name"] for r in live_llm.requests() for t in r.get("tools") or []}
    assert "k8s_scale" in offered
    assert not {"k8s_drain", "k8s_cordon", "helm_install", "helm_upgrade", "helm_rollback"} & offered
    changes = [r for r in shop.sandbox.requests_after(seen)[1] if r["method"] != "GET"]
    assert changes == []
    assert shop.sandbox.kubectl("get", "namespace", "finding-01-ns", check=False).returncode != 0
