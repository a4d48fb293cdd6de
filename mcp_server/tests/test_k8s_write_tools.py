"""Mutating Kubernetes tools, each checked in cluster state through kubectl."""

import json
import secrets

import pytest

from mcp_server.tests.conftest import call_ok
from mcp_server.tests.manifests import apply, deployment


@pytest.fixture
def web(sandbox_cluster, k8s_namespace):
    apply(sandbox_cluster, k8s_namespace, deployment("web"))
    return k8s_namespace


def _deployment(cluster, namespace):
    return cluster.get_json("deployment", "web", namespace)


async def test_it_applies_a_manifest(mcp, sandbox_cluster, k8s_namespace):
    result = await call_ok(mcp, "k8s_apply", manifest=deployment("api", replicas=2), namespace=k8s_namespace)
    assert "created" in result.structured_content["output"]
    assert sandbox_cluster.get_json("deployment", "api", k8s_namespace)["spec"]["replicas"] == 2


async def test_it_patches(mcp, sandbox_cluster, web):
    await call_ok(
        mcp, "k8s_patch", kind="deployment", name="web", namespace=web, patch="metadata: {labels: {tier: fe}}"
    )
    assert _deployment(sandbox_cluster, web)["metadata"]["labels"]["tier"] == "fe"


async def test_it_scales(mcp, sandbox_cluster, web):
    await call_ok(mcp, "k8s_scale", kind="deployment", name="web", replicas=3, namespace=web)
    assert _deployment(sandbox_cluster, web)["spec"]["replicas"] == 3


async def test_it_sets_an_image_and_rolls_it_back(mcp, sandbox_cluster, web):
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", web, "--timeout=30s")
    await call_ok(
        mcp, "k8s_set_image", kind="deployment", name="web", container="web", image="nginx:1.28", namespace=web
    )
    containers = _deployment(sandbox_cluster, web)["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "nginx:1.28"
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", web, "--timeout=30s")
    await call_ok(mcp, "k8s_rollout_undo", kind="deployment", name="web", namespace=web)
    containers = _deployment(sandbox_cluster, web)["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "nginx:1.27"


async def test_it_restarts_a_rollout(mcp, sandbox_cluster, web):
    await call_ok(mcp, "k8s_rollout_restart", kind="deployment", name="web", namespace=web)
    annotations = _deployment(sandbox_cluster, web)["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations


async def test_it_labels_and_annotates_and_removes_them(mcp, sandbox_cluster, web):
    await call_ok(mcp, "k8s_label", kind="deployment", name="web", labels={"team": "shop"}, namespace=web)
    await call_ok(mcp, "k8s_annotate", kind="deployment", name="web", annotations={"note": "hi there"}, namespace=web)
    meta = _deployment(sandbox_cluster, web)["metadata"]
    assert meta["labels"]["team"] == "shop"
    assert meta["annotations"]["note"] == "hi there"
    await call_ok(mcp, "k8s_label", kind="deployment", name="web", labels={"team": None}, namespace=web)
    assert "team" not in _deployment(sandbox_cluster, web)["metadata"]["labels"]


async def test_it_deletes(mcp, sandbox_cluster, web):
    await call_ok(mcp, "k8s_delete", kind="deployment", name="web", namespace=web)
    result = sandbox_cluster.kubectl("get", "deployment", "web", "-n", web, check=False)
    assert result.returncode != 0
    assert "not found" in result.stderr


@pytest.fixture
def spare_node(sandbox_cluster):
    """A node of its own, so cordoning or draining it disturbs no other test's pods."""
    name = f"spare-{secrets.token_hex(3)}"
    sandbox_cluster.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    )
    yield name
    sandbox_cluster.kubectl("delete", "node", name, check=False)


async def test_it_cordons_and_uncordons_a_node(mcp, sandbox_cluster, spare_node):
    await call_ok(mcp, "k8s_cordon", node=spare_node)
    assert sandbox_cluster.get_json("node", spare_node)["spec"].get("unschedulable") is True
    await call_ok(mcp, "k8s_uncordon", node=spare_node)
    assert not sandbox_cluster.get_json("node", spare_node)["spec"].get("unschedulable")


async def test_it_drains_a_node(mcp, sandbox_cluster, spare_node):
    result = await call_ok(mcp, "k8s_drain", node=spare_node)
    assert f"node/{spare_node} drained" in result.structured_content["output"]
    assert sandbox_cluster.get_json("node", spare_node)["spec"].get("unschedulable") is True
