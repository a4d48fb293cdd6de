"""A cluster connection to another MCP server, end to end: the live stack (web, worker, beat) drives Red Hat's real
kubernetes-mcp-server (tests/third_party_mcp.py) against the sandbox. Approval comes from the server's annotations,
the connection's deny-list withholds a tool from the model and refuses it, and the server's output gets our
redaction before anyone sees it."""

import json

import pytest

from orgs.models import ClusterConnection
from tests.live import shop_make
from tests.scripted_llm import call, plan, say, verdict
from tests.third_party_mcp import binary_or_skip
from workflows.models import ToolCall

pytestmark = pytest.mark.e2e
DENIED = "resources_delete"


@pytest.fixture
def shop(live_db, live_stack, toolserver, sandbox_cluster, kubernetes_mcp_server):
    """The live tests' shop, its cluster connection pointed at kubernetes-mcp-server (no token) with a deny-list."""
    shop = shop_make(live_stack, toolserver, sandbox_cluster)
    cluster = shop.cluster
    cluster.kind, cluster.mcp_server_url, cluster.tool_deny = (
        ClusterConnection.Kind.MCP,
        kubernetes_mcp_server.url,
        [DENIED],
    )
    cluster.mcp_server_token = ""
    cluster.save()
    return shop


def offered(request: dict) -> set[str]:
    return {tool["function"]["name"] for tool in request.get("tools") or ()}


def test_a_run_lists_pods_through_it_without_approval_and_its_kubeconfig_token_is_redacted(shop, live_llm):
    ns = shop.namespace
    pods = shop.sandbox.kubectl("get", "pods", "-n", ns, "-o", "name").stdout.replace("pod/", "").split()
    live_llm.set_script(
        [
            plan([("List the pods", "pods_list_in_namespace"), ("Show the kubeconfig", "configuration_view")]),
            call("pods_list_in_namespace", {"namespace": ns}),
            call("configuration_view", {}),
            verdict(True, "listed"),
            say(f"{len(pods)} pod(s) run in {ns}.", agent="responder"),
        ]
    )
    with shop.socket() as events:
        run_id = shop.ask("which pods run here?")["run"]["id"]
        assert events.until("run.finished")["data"]["status"] == "succeeded"

    results = {f["data"]["call_id"]: f["data"] for f in events.of("tool.result")}
    calls = {f["data"]["tool"]: results[f["data"]["call_id"]] for f in events.of("tool.call")}
    assert set(calls) == {"pods_list_in_namespace", "configuration_view"}
    assert all(not f["data"]["mutating"] for f in events.of("tool.call"))
    assert "approval.requested" not in events.types()
    assert events.of("tool.output") == []  # the server streams no live output: the results alone, no error
    assert calls["pods_list_in_namespace"]["ok"]
    assert pods
    assert all(pod in calls["pods_list_in_namespace"]["output"] for pod in pods)
    # The server hands out its kubeconfig's bearer token; our redaction masks it for the browser, ledger and model.
    assert "***REDACTED***" in calls["configuration_view"]["output"]
    token = shop.sandbox.admin_token
    assert token not in json.dumps(events.frames)
    assert token not in json.dumps(list(ToolCall.objects.filter(run_id=run_id).values("result")))
    assert token not in json.dumps(live_llm.requests())
    listed = [r for r in shop.sandbox.requests_log(f"/namespaces/{ns}/pods") if r["method"] == "GET"]
    assert listed
    assert listed[-1]["user_agent"].startswith("kubernetes-mcp-server/")


def test_a_scale_through_it_waits_for_approval_and_runs_after_it(shop, live_llm):
    ns = shop.namespace
    args = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": ns, "scale": 3}
    live_llm.set_script(
        [
            plan([("Scale web to 3", "resources_scale")]),
            call("resources_scale", args),
            verdict(True, "web has 3 replicas"),
            say("Scaled web to 3.", agent="responder"),
        ]
    )
    with shop.socket() as events:
        shop.ask("scale web to 3")
        approval = events.until("approval.requested")["data"]
        assert (approval["tool"], approval["args"]) == ("resources_scale", args)
        assert "No diff preview for another MCP server's tool." in approval["preview"]
        assert "destructive" in approval["preview"]
        assert shop.replicas()[0] == 1
        assert shop.sandbox.changes(f"/namespaces/{ns}/deployments/web") == []

        assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
        assert events.until("run.finished")["data"]["status"] == "succeeded"

    assert events.of("tool.call")[0]["data"]["mutating"] is True
    assert shop.replicas()[0] == 3
    changes = shop.sandbox.changes(f"/namespaces/{ns}/deployments/web")
    assert changes
    assert all(c["user_agent"].startswith("kubernetes-mcp-server/") for c in changes)


def test_a_denied_tool_is_never_offered_to_the_model_and_a_call_naming_it_is_refused(shop, live_llm):
    ns = shop.namespace
    live_llm.set_script(
        [
            plan([("Delete web", None)]),
            call(DENIED, {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": ns}),
            verdict(True, "nothing to check: the call was refused"),
            say("Deleting is not offered on this cluster connection.", agent="responder"),
        ]
    )
    with shop.socket() as events:
        shop.ask("delete the web deployment")
        events.until("run.finished")

    requests = live_llm.requests()
    executor = [r for r in requests if "agent: executor" in json.dumps(r["messages"][:1])]
    assert executor
    assert all("resources_scale" in offered(r) and DENIED not in offered(r) for r in executor)
    planner = [r for r in requests if "agent: planner" in json.dumps(r["messages"][:1])]
    assert planner
    assert all(DENIED not in json.dumps([r["messages"][0], r.get("response_format")]) for r in planner)
    refused = [f for f in events.of("step.finished") if f["data"]["status"] == "refused"]
    assert len(refused) == 1
    assert DENIED not in [f["data"]["tool"] for f in events.of("tool.call")]
    assert "approval.requested" not in events.types()
    assert shop.sandbox.changes(f"/namespaces/{ns}/deployments/web") == []
    assert shop.replicas()[0] == 1


@pytest.fixture
def stdio_shop(live_db, live_stack, toolserver_factory, sandbox_cluster):
    """The shop's connection pointed at kubernetes-mcp-server in its stdio mode, which our tool server launches from
    the operator's MCP_STDIO_SERVERS and serves at /servers/kubernetes/mcp behind its own token."""
    argv = [str(binary_or_skip()), "--kubeconfig", sandbox_cluster.kubeconfig, "--cluster-provider", "kubeconfig"]
    bridge = toolserver_factory(env={"MCP_STDIO_SERVERS": json.dumps({"kubernetes": argv})})
    shop = shop_make(live_stack, bridge, sandbox_cluster)
    shop.cluster.kind = ClusterConnection.Kind.MCP
    shop.cluster.mcp_server_url = bridge.url.removesuffix("/mcp") + "/servers/kubernetes/mcp"
    shop.cluster.save()
    return shop


def test_a_run_lists_pods_through_a_stdio_server_the_tool_server_launched(stdio_shop, live_llm):
    shop, ns = stdio_shop, stdio_shop.namespace
    pods = shop.sandbox.kubectl("get", "pods", "-n", ns, "-o", "name").stdout.replace("pod/", "").split()
    live_llm.set_script(
        [
            plan([("List the pods", "pods_list_in_namespace")]),
            call("pods_list_in_namespace", {"namespace": ns}),
            verdict(True, "listed"),
            say(f"{len(pods)} pod(s) run in {ns}.", agent="responder"),
        ]
    )
    with shop.socket() as events:
        shop.ask("which pods run here?")
        assert events.until("run.finished")["data"]["status"] == "succeeded"

    (result,) = [f["data"] for f in events.of("tool.result")]
    assert result["ok"]
    assert pods
    assert all(pod in result["output"] for pod in pods)
    assert "approval.requested" not in events.types()
    tools = set().union(*(offered(r) for r in live_llm.requests()))
    assert {"resources_scale", "pods_list_in_namespace"} <= tools  # the server's own tools, approval by annotation
