"""Annotations enforced at tools/call: read-only mode and the namespace allow-list refuse before anything runs."""

import pytest

from mcp_server.tests.conftest import call_ok, http_session, memory_session, text_of
from mcp_server.tests.manifests import apply, deployment


@pytest.fixture
def web(sandbox_cluster, k8s_namespace):
    apply(sandbox_cluster, k8s_namespace, deployment("web"))
    return k8s_namespace


def _replicas(cluster, namespace):
    return cluster.get_json("deployment", "web", namespace)["spec"]["replicas"]


async def test_it_refuses_every_mutating_tool_in_read_only_mode_over_http(toolserver_factory, sandbox_cluster, web):
    server = toolserver_factory(read_only=True)
    async with http_session(server) as session:
        listed = {tool.name for tool in (await session.list_tools()).tools}
        refused = await session.call_tool(
            "k8s_scale", {"kind": "deployment", "name": "web", "replicas": 4, "namespace": web}
        )
        deleted = await session.call_tool("k8s_delete", {"kind": "deployment", "name": "web", "namespace": web})
        read = await call_ok(session, "k8s_get", kind="deployment", name="web", namespace=web)
    assert "k8s_scale" not in listed
    assert "k8s_get" in listed
    assert refused.is_error
    assert "read-only" in text_of(refused)
    assert deleted.is_error
    assert _replicas(sandbox_cluster, web) == 1
    assert "web" in read.structured_content["output"]


async def test_it_refuses_a_mutating_call_in_read_only_mode_in_memory(sandbox_cluster, web):
    async with memory_session(sandbox_cluster.env, MCP_READ_ONLY="1") as session:
        result = await session.call_tool("k8s_apply", {"manifest": deployment("web", replicas=5), "namespace": web})
    assert result.is_error
    assert "Nothing ran" in text_of(result)
    assert _replicas(sandbox_cluster, web) == 1


async def test_it_confines_calls_to_the_allowed_namespaces(sandbox_cluster, web):
    other = sandbox_cluster.new_namespace("other")
    apply(sandbox_cluster, other, deployment("web"))
    async with memory_session(sandbox_cluster.env, MCP_ALLOWED_NAMESPACES=web) as session:
        allowed = await call_ok(session, "k8s_scale", kind="deployment", name="web", replicas=2, namespace=web)
        calls = [
            ("k8s_scale", {"kind": "deployment", "name": "web", "replicas": 3, "namespace": other}),
            ("k8s_get", {"kind": "deployments", "namespace": other}),
            ("k8s_get", {"kind": "deployments", "all_namespaces": True}),
            ("k8s_scale", {"kind": "deployment", "name": "web", "replicas": 3}),
            ("k8s_delete", {"kind": "namespace", "name": other, "namespace": web}),
            ("k8s_apply", {"manifest": deployment("web", replicas=3, namespace=other)}),
            ("k8s_cordon", {"node": "any-node"}),
        ]
        refusals = [await session.call_tool(name, args) for name, args in calls]
    assert allowed.structured_content["exit_code"] == 0
    assert _replicas(sandbox_cluster, web) == 2
    assert [r.is_error for r in refusals] == [True] * len(calls), [text_of(r) for r in refusals]
    assert all("$ " not in text_of(r) for r in refusals)
    assert _replicas(sandbox_cluster, other) == 1
    assert sandbox_cluster.kubectl("get", "namespace", other).returncode == 0
