"""Findings 3 and 8 of issue 13: the namespace allow-list checks what kubectl will actually send, and the
discovery of cluster-scoped kinds fails closed."""

import json
import os
from pathlib import Path

import pytest

from mcp_server.testing import run_toolserver
from mcp_server.tests.conftest import call_ok, http_session, text_of
from sandbox.__main__ import kubeconfig_text
from sandbox.testing import run_sandbox
from tests.live import free_port

ADMIN_BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "finding-03-escalate"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
    "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}],
}
NEW_NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "finding-03-created"}}


def _configmap(name, namespace=None):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def _exists(cluster, *args):
    return cluster.kubectl("get", *args, check=False).returncode == 0


async def test_finding_03_items_list_cannot_escape_namespaces(toolserver_factory, sandbox_cluster, k8s_namespace):
    ns = k8s_namespace
    other = sandbox_cluster.new_namespace("other")
    server = toolserver_factory(allowed_namespaces=[ns])
    # kubectl flattens any object carrying `items` (its kind is only a disguise); the sandbox validates
    # served kinds server-side, so the disguise is a served kind (a real cluster also takes `kind: List`)
    wrapped = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns}}
    attacks = [
        {**wrapped, "items": [ADMIN_BINDING]},
        {**wrapped, "items": [{**_configmap("inner"), "items": [NEW_NAMESPACE]}]},
        {**wrapped, "items": [_configmap("ok-1"), _configmap("escaped", other)]},
        {**wrapped, "items": ["not an object"]},
        {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "List", "items": [NEW_NAMESPACE]}]},
    ]
    async with http_session(server) as session:
        applied = [await session.call_tool("k8s_apply", {"manifest": json.dumps(a), "namespace": ns}) for a in attacks]
        diffed = await session.call_tool("k8s_diff", {"manifest": json.dumps(attacks[0]), "namespace": ns})
        fine = {**_configmap("wrapper"), "items": [_configmap("ok-2"), _configmap("ok-3", ns)]}
        allowed = await call_ok(session, "k8s_apply", manifest=json.dumps(fine), namespace=ns)
    for result in [*applied, diffed]:
        assert result.is_error, text_of(result)
        assert "refused" in text_of(result), text_of(result)
        assert "$ kubectl" not in text_of(result)
    assert not _exists(sandbox_cluster, "clusterrolebinding", "finding-03-escalate")
    assert not _exists(sandbox_cluster, "namespace", "finding-03-created")
    assert not _exists(sandbox_cluster, "configmap", "escaped", "-n", other)
    assert not _exists(sandbox_cluster, "configmap", "ok-1", "-n", ns)
    assert "configmap/ok-2 created" in allowed.structured_content["output"]
    assert _exists(sandbox_cluster, "configmap", "ok-3", "-n", ns)
    assert not _exists(sandbox_cluster, "configmap", "wrapper", "-n", ns)


@pytest.fixture
def late_cluster_env(tmp_path):
    """An environment whose kubeconfig points at a port where no API server listens yet."""
    port = free_port()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text(f"http://127.0.0.1:{port}"))
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(tmp_path / "cache")}
    env["PATH"] = f"{Path(__file__).resolve().parents[2] / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    return port, env


async def test_finding_08_failed_discovery_refuses_and_is_retried(late_cluster_env):
    port, env = late_cluster_env
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "finding-08-created"}}
    with run_toolserver(env, allowed_namespaces=["shop"]) as server:
        async with http_session(server) as session:
            unreachable = await session.call_tool("k8s_delete", {"kind": "ns", "name": "shop", "namespace": "shop"})
            with run_sandbox(port=port, scenarios=("demo",)) as cluster:
                created = await session.call_tool("k8s_apply", {"manifest": json.dumps(namespace), "namespace": "shop"})
                labelled = await session.call_tool(
                    "k8s_label", {"kind": "namespaces", "name": "shop", "labels": {"x": "y"}, "namespace": "shop"}
                )
                assert not _exists(cluster, "namespace", "finding-08-created")
                assert "x" not in (cluster.get_json("namespace", "shop")["metadata"].get("labels") or {})
    assert unreachable.is_error
    assert "could not tell which kinds are cluster-scoped" in text_of(unreachable)
    assert "$ kubectl delete" not in text_of(unreachable)
    for result in (created, labelled):
        assert result.is_error
        assert "cluster-scoped" in text_of(result), text_of(result)
