"""Red Hat's kubernetes-mcp-server (pinned v0.0.67, the real binary) against the sandbox cluster, through the MCP SDK's
streamable-HTTP client: what it offers, that it reads the sandbox, and that the cluster's RBAC reaches its answers."""

from sandbox.tests.manifests import as_input, binding, deployment, role, rule
from tests.third_party_mcp import mcp_session, run_kubernetes_mcp_server

DESTRUCTIVE = {"pods_delete", "pods_exec", "resources_create_or_update", "resources_delete", "resources_scale"}


async def list_tools(url: str) -> dict:
    async with mcp_session(url) as session:
        return {tool.name: tool for tool in (await session.list_tools()).tools}


def running_deployment(sandbox_cluster, ns: str) -> list[str]:
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(ns, "web", replicas=2)))
    sandbox_cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=60s")
    return sandbox_cluster.kubectl("get", "pods", "-n", ns, "-o", "name").stdout.replace("pod/", "").split()


async def test_it_offers_twenty_tools_each_with_read_only_and_destructive_hints(kubernetes_mcp_server):
    tools = await list_tools(kubernetes_mcp_server.url)

    assert len(tools) == 20
    assert all(t.annotations and t.annotations.title for t in tools.values())
    hints = {
        name: (t.annotations.read_only_hint, t.annotations.destructive_hint, t.annotations.idempotent_hint)
        for name, t in tools.items()
    }
    assert all(read_only is not None and destructive is not None for read_only, destructive, _ in hints.values())
    assert {name for name, (read_only, _, _) in hints.items() if not read_only} == DESTRUCTIVE | {"pods_run"}
    assert {name for name, (_, destructive, _) in hints.items() if destructive} == DESTRUCTIVE
    assert hints["pods_list_in_namespace"][:2] == (True, False)


async def test_it_lists_the_sandbox_pods_and_the_cluster_sees_it_ask(
    kubernetes_mcp_server, sandbox_cluster, k8s_namespace
):
    ns = k8s_namespace
    pods = running_deployment(sandbox_cluster, ns)
    start, _ = sandbox_cluster.requests_after(0)

    async with mcp_session(kubernetes_mcp_server.url) as session:
        result = await session.call_tool("pods_list_in_namespace", {"namespace": ns})
    _, entries = sandbox_cluster.requests_after(start)

    assert not result.is_error
    text = result.content[0].text
    assert len(pods) == 2
    assert all(pod in text for pod in pods)
    lists = [e for e in entries if (e["verb"], e["resource"], e["namespace"]) == ("list", "pods", ns)]
    assert lists
    assert lists[0]["user_agent"].startswith("kubernetes-mcp-server/")


async def test_read_only_mode_offers_only_tools_annotated_read_only(sandbox_cluster):
    with run_kubernetes_mcp_server(sandbox_cluster.kubeconfig, sandbox_cluster.env, read_only=True) as server:
        tools = await list_tools(server.url)

    assert len(tools) == 14
    assert all(t.annotations.read_only_hint for t in tools.values())


async def test_the_cluster_forbids_what_its_rbac_does_not_allow_the_servers_identity(sandbox_cluster, k8s_namespace):
    ns, carol = k8s_namespace, f"carol@{k8s_namespace}.example.com"
    pods = running_deployment(sandbox_cluster, ns)
    reader = role("pod-reader", [rule(["get", "list"], ["pods"])], ns)
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(reader, binding("carol", reader, [("User", carol)], ns)))
    kubeconfig = sandbox_cluster.kubeconfig_for(sandbox_cluster.add_user(carol))

    with run_kubernetes_mcp_server(kubeconfig, sandbox_cluster.env) as server:
        async with mcp_session(server.url) as session:
            listed = await session.call_tool("pods_list_in_namespace", {"namespace": ns})
            secrets = await session.call_tool("resources_list", {"apiVersion": "v1", "kind": "Secret", "namespace": ns})

    assert not listed.is_error
    assert pods[0] in listed.content[0].text
    assert secrets.is_error
    assert (
        f'secrets is forbidden: User "{carol}" cannot list resource "secrets" in API group "" in the namespace "{ns}"'
        in secrets.content[0].text
    )


async def test_its_configuration_view_returns_the_kubeconfig_token_unless_only_core_tools_are_served(
    kubernetes_mcp_server, sandbox_cluster
):
    # Why a connection to it must deny configuration_view (or serve `--toolsets core`): the token reaches the model.
    async with mcp_session(kubernetes_mcp_server.url) as session:
        view = await session.call_tool("configuration_view", {})
    with run_kubernetes_mcp_server(sandbox_cluster.kubeconfig, sandbox_cluster.env, toolsets=["core"]) as server:
        core = await list_tools(server.url)

    assert sandbox_cluster.admin_token in view.content[0].text
    assert "configuration_view" not in core
    assert len(core) == 19
