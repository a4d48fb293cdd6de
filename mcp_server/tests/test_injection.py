"""Injection attempts are refused before anything runs, and the cluster is left as it was."""

import pytest

from mcp_server.tests.conftest import text_of
from mcp_server.tests.manifests import apply, deployment


@pytest.fixture(scope="module")
def web(sandbox_cluster):
    """Shared by the module: every test asserts the deployment is left exactly as created."""
    namespace = sandbox_cluster.new_namespace("inject")
    apply(sandbox_cluster, namespace, deployment("web"))
    return namespace


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("k8s_scale", {"kind": "deployment", "name": "web --server=http://evil", "replicas": 0}),
        ("k8s_scale", {"kind": "deployment", "name": "web", "replicas": 0, "namespace": "a;rm -rf /"}),
        ("k8s_set_image", {"kind": "deployment", "name": "web", "container": "web", "image": "nginx --kubeconfig=/x"}),
        ("k8s_label", {"kind": "deployment", "name": "web", "labels": {"x": "y --as=system:admin"}}),
        ("k8s_annotate", {"kind": "deployment", "name": "web", "annotations": {"x": "--token=abc"}}),
        ("k8s_delete", {"kind": "deployment", "selector": "app=web -s http://evil"}),
        ("k8s_delete", {"kind": "deployment --context=prod", "name": "web"}),
        ("k8s_get", {"kind": "deployments", "selector": "$(touch /tmp/pwned)"}),
        ("helm_install", {"release": "r", "chart": "c", "set_values": {"a": "1 --post-renderer=/bin/sh"}}),
        ("helm_upgrade", {"release": "r --kube-context=x", "chart": "c"}),
    ],
)
async def test_it_refuses_injection_and_runs_nothing(mcp, sandbox_cluster, web, tool, arguments):
    arguments = {"namespace": web, **arguments}
    result = await mcp.call_tool(tool, arguments)
    assert result.is_error
    assert "not allowed" in text_of(result) or "not a valid" in text_of(result)
    assert "$ " not in text_of(result)
    live = sandbox_cluster.get_json("deployment", "web", web)
    assert live["spec"]["replicas"] == 1
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert set(live["metadata"].get("labels", {})) == {"app"}
