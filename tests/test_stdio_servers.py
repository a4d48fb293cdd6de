"""A stdio-only MCP server launched by our tool server (MCP_STDIO_SERVERS, the operator's list) and served over
HTTP at /servers/<name>/mcp: the real kubernetes-mcp-server binary in its default stdio mode, against the sandbox,
reached through a real tool-server process with the MCP SDK's client, as the engine reaches it."""

import json

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from mcp_server.config import ConfigError, config_from_env
from mcp_server.testing import run_toolserver
from tests.test_kubernetes_mcp_server import DESTRUCTIVE, running_deployment
from tests.third_party_mcp import binary_or_skip, mcp_session


@pytest.fixture(scope="module")
def bridged(sandbox_cluster):
    argv = [str(binary_or_skip()), "--kubeconfig", sandbox_cluster.kubeconfig, "--cluster-provider", "kubeconfig"]
    servers = json.dumps({"kubernetes": argv, "broken": ["/nonexistent/mcp-server"]})
    with run_toolserver(sandbox_cluster.env, extra_env={"MCP_STDIO_SERVERS": servers}) as server:
        yield server, server.url.removesuffix("/mcp") + "/servers/kubernetes/mcp"


async def test_it_serves_the_stdio_servers_tools_with_their_annotations(bridged):
    server, url = bridged
    async with mcp_session(url, server.token) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}

    assert len(tools) == 20
    assert {name for name, t in tools.items() if t.annotations.destructive_hint} == DESTRUCTIVE
    assert tools["pods_list_in_namespace"].annotations.read_only_hint is True


async def test_its_calls_reach_the_cluster_through_the_launched_server(bridged, sandbox_cluster, k8s_namespace):
    server, url = bridged
    pods = running_deployment(sandbox_cluster, k8s_namespace)
    start, _ = sandbox_cluster.requests_after(0)

    async with mcp_session(url, server.token) as session:
        first = await session.call_tool("pods_list_in_namespace", {"namespace": k8s_namespace})
    async with mcp_session(url, server.token) as session:  # a second session shares the launched process
        second = await session.call_tool("pods_list_in_namespace", {"namespace": k8s_namespace})
    _, entries = sandbox_cluster.requests_after(start)

    assert not first.is_error
    assert not second.is_error
    assert all(pod in first.content[0].text for pod in pods)
    agents = {e["user_agent"].split("/")[0] for e in entries if e["namespace"] == k8s_namespace}
    assert agents == {"kubernetes-mcp-server"}


def test_it_is_behind_the_tool_servers_token(bridged):
    server, url = bridged
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}

    assert httpx.post(url, json=body, headers=headers, timeout=10).status_code == 401
    wrong = {**headers, "Authorization": "Bearer not-the-token"}
    assert httpx.post(url, json=body, headers=wrong, timeout=10).status_code == 401
    unknown = url.replace("/servers/kubernetes/", "/servers/other/")
    assert httpx.post(unknown, json=body, headers={**headers, **server.headers}, timeout=10).status_code == 404


async def test_a_server_that_cannot_start_is_an_error_not_a_hang(bridged):
    server, url = bridged
    broken = url.replace("/servers/kubernetes/", "/servers/broken/")
    with pytest.raises(ExceptionGroup) as failure:  # the SDK's client raises the server's error from its task group
        async with mcp_session(broken, server.token) as session:
            await session.list_tools()
    assert failure.group_contains(MCPError, match="The MCP server 'broken' could not be started on the tool server.")

    async with mcp_session(url, server.token) as session:  # the other one is unaffected
        assert (await session.list_tools()).tools


@pytest.mark.parametrize(
    "value",
    ['["kubectl"]', '{"Bad Name": ["x"]}', '{"k8s": []}', '{"k8s": "kubernetes-mcp-server"}', "not json"],
)
def test_a_bad_list_stops_the_tool_server_at_start_naming_the_variable(value):
    with pytest.raises(ConfigError, match="MCP_STDIO_SERVERS"):
        config_from_env({"MCP_STDIO_SERVERS": value})
