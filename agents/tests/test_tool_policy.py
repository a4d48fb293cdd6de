"""Approval is decided from MCP annotations alone and fails closed; schemas follow the asker's rights."""

from __future__ import annotations

import pytest

from agents.tool_policy import ToolPolicy

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}}
SYNTHETIC = [
    {"name": "plain", "description": "no annotations", "inputSchema": SCHEMA},
    {"name": "hint_missing", "inputSchema": SCHEMA, "annotations": {"destructiveHint": False}},
    {"name": "hint_string", "inputSchema": SCHEMA, "annotations": {"readOnlyHint": "true"}},
    {"name": "hint_false", "inputSchema": SCHEMA, "annotations": {"readOnlyHint": False}},
    {"name": "reader", "inputSchema": SCHEMA, "annotations": {"readOnlyHint": True}},
]


def names(schemas: list[dict]) -> set[str]:
    return {s["function"]["name"] for s in schemas}


@pytest.mark.parametrize("tool", ["plain", "hint_missing", "hint_string", "hint_false", "never_listed"])
def test_it_treats_anything_not_explicitly_read_only_as_mutating(tool):
    policy = ToolPolicy(SYNTHETIC, can_request_changes=True, cluster_read_only=False)

    assert policy.requires_approval(tool) is True


def test_it_lets_an_explicitly_read_only_tool_run_without_approval():
    policy = ToolPolicy(SYNTHETIC, can_request_changes=False, cluster_read_only=True)

    assert policy.requires_approval("reader") is False
    assert policy.allowed("reader") is True


def test_it_never_allows_an_unknown_tool():
    policy = ToolPolicy(SYNTHETIC, can_request_changes=True, cluster_read_only=False)

    assert policy.allowed("never_listed") is False
    assert "never_listed" not in names(policy.function_schemas())


async def test_it_reads_the_annotations_of_the_real_tool_server(tool_session):
    policy = ToolPolicy(tool_session.tools, can_request_changes=True, cluster_read_only=False)

    assert policy.requires_approval("k8s_scale") is True
    assert policy.requires_approval("k8s_delete") is True
    assert policy.requires_approval("helm_install") is True
    assert policy.requires_approval("k8s_get") is False
    assert policy.requires_approval("k8s_diff") is False
    assert {"k8s_get", "k8s_scale", "k8s_delete"} <= names(policy.function_schemas())


@pytest.mark.parametrize(("can_request_changes", "cluster_read_only"), [(False, False), (True, True), (False, True)])
async def test_it_gives_no_mutating_schema_to_a_viewer_or_on_a_read_only_cluster(
    tool_session, can_request_changes, cluster_read_only
):
    policy = ToolPolicy(
        tool_session.tools, can_request_changes=can_request_changes, cluster_read_only=cluster_read_only
    )

    offered = names(policy.function_schemas())

    assert "k8s_get" in offered
    assert "k8s_logs" in offered
    assert not {"k8s_scale", "k8s_apply", "k8s_delete", "helm_install"} & offered
    assert all(not policy.requires_approval(name) for name in offered)
    assert policy.allowed("k8s_scale") is False


async def test_it_exposes_the_listed_tools_with_schema_and_annotations(tool_session):
    schema = next(s for s in tool_session.tools if s.name == "k8s_scale")

    assert schema.annotations["readOnlyHint"] is False
    assert "replicas" in schema.input_schema["properties"]


def test_the_connections_lists_decide_which_tools_exist_for_the_run_and_a_withheld_one_is_refused():
    denied = ToolPolicy(SYNTHETIC, can_request_changes=True, cluster_read_only=False, tool_deny=["reader", "plain"])
    allowed = ToolPolicy(SYNTHETIC, can_request_changes=True, cluster_read_only=False, tool_allow=["reader"])

    assert names(denied.function_schemas()) == {"hint_missing", "hint_string", "hint_false"}
    assert names(allowed.function_schemas()) == {"reader"}
    assert "reader" not in denied.tools
    assert denied.check("reader", {})[1] == "reader is not offered on this cluster connection (an admin withheld it)."
    assert allowed.check("plain", {})[1] == "plain is not offered on this cluster connection (an admin withheld it)."
    assert denied.requires_approval("reader") is True  # a withheld tool is unknown to the run: fail closed


def test_another_servers_tools_are_refused_on_a_connection_confined_to_namespaces():
    # Skyflo confines only its own tools' arguments; another server's call could land anywhere.
    policy = ToolPolicy(
        SYNTHETIC, can_request_changes=True, cluster_read_only=False, allowed_namespaces=["shop"], kind="mcp"
    )

    assert policy.function_schemas() == []
    assert "limited to namespaces" in policy.check("reader", {"name": "x"})[1]
    assert policy.previews is False
