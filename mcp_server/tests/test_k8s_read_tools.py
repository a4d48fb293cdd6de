"""Read-only Kubernetes tools through a real MCP client session (in memory) against the sandbox."""

import json

import pytest

from mcp_server.tests.conftest import call_ok, text_of
from mcp_server.tests.manifests import apply, deployment


@pytest.fixture(scope="module")
def web(sandbox_cluster):
    """One namespace for the module: these tools change nothing (which the diff tests assert)."""
    namespace = sandbox_cluster.new_namespace("read")
    logs = {"sandbox.skyflo.dev/logs": "hello from web\n"}
    apply(sandbox_cluster, namespace, deployment("web", annotations=logs))
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")
    return namespace


async def test_it_gets_objects_and_states_the_command(mcp, web):
    result = await call_ok(mcp, "k8s_get", kind="deployments", namespace=web)
    text = text_of(result)
    assert text.splitlines()[0] == f"$ kubectl get deployments -n {web} -o wide"
    assert "web" in text
    assert result.structured_content["command"] == f"kubectl get deployments -n {web} -o wide"
    assert result.structured_content["exit_code"] == 0
    assert result.structured_content["truncated"] is False


async def test_it_gets_one_object_as_json(mcp, web):
    result = await call_ok(mcp, "k8s_get", kind="deployment", name="web", namespace=web, output="json")
    obj = json.loads(result.structured_content["output"])
    assert obj["metadata"]["name"] == "web"
    assert obj["spec"]["replicas"] == 1


async def test_it_describes(mcp, web):
    result = await call_ok(mcp, "k8s_describe", kind="deployment", name="web", namespace=web)
    assert "Replicas:" in text_of(result)


async def test_it_reads_logs_of_a_workload(mcp, web):
    result = await call_ok(mcp, "k8s_logs", kind="deployment", name="web", namespace=web)
    assert "hello from web" in result.structured_content["output"]


async def test_it_lists_events(mcp, web):
    result = await call_ok(mcp, "k8s_events", namespace=web, for_object="deployment/web")
    assert result.structured_content["command"] == f"kubectl events -n {web} --for=deployment/web"
    assert "ScalingReplicaSet" in result.structured_content["output"]


async def test_it_lists_api_resources(mcp, sandbox_cluster):
    result = await call_ok(mcp, "k8s_api_resources", api_group="apps")
    assert "deployments" in result.structured_content["output"]


async def test_it_waits_for_a_rollout_and_shows_history(mcp, web):
    status = await call_ok(mcp, "k8s_rollout_status", kind="deployment", name="web", namespace=web)
    assert "successfully rolled out" in status.structured_content["output"]
    history = await call_ok(mcp, "k8s_rollout_history", kind="deployment", name="web", namespace=web)
    assert "REVISION" in history.structured_content["output"]


async def test_it_diffs_a_manifest_without_changing_anything(mcp, web, sandbox_cluster):
    result = await call_ok(mcp, "k8s_diff", manifest=deployment("web", replicas=3), namespace=web)
    diff = result.structured_content["output"]
    assert any(line.startswith("+") and "replicas: 3" in line for line in diff.splitlines()), diff
    assert sandbox_cluster.get_json("deployment", "web", web)["spec"]["replicas"] == 1


async def test_it_diffs_a_patch_without_changing_anything(mcp, web, sandbox_cluster):
    result = await call_ok(
        mcp, "k8s_diff", kind="deployment", name="web", namespace=web, patch='{"spec": {"replicas": 5}}'
    )
    diff = result.structured_content["output"].splitlines()
    assert any(line.startswith("-") and "replicas: 1" in line for line in diff), diff
    assert any(line.startswith("+") and "replicas: 5" in line for line in diff), diff
    first, second = text_of(result).splitlines()[:2]
    assert first == f"$ kubectl get deployment web -n {web} -o json"
    assert second.startswith(f"$ kubectl patch deployment web -n {web} --type=strategic")
    assert second.endswith("--dry-run=server -o json")
    assert sandbox_cluster.get_json("deployment", "web", web)["spec"]["replicas"] == 1


async def test_it_reports_a_failed_command_as_a_tool_error_with_stderr(mcp, web):
    result = await mcp.call_tool("k8s_get", {"kind": "deployment", "name": "missing", "namespace": web})
    assert result.is_error
    assert result.structured_content["exit_code"] != 0
    assert "not found" in result.structured_content["stderr"]
    assert text_of(result).startswith(f"$ kubectl get deployment missing -n {web}")
