"""What a cluster connection's MCP server offers, as admins see it: each tool with its MCP annotations, whether the
connection's allow/deny lists offer it to the model, and the approval a call gets.

Approval comes from the server's annotations only, failing closed: `readOnlyHint: true` runs without approval;
anything else, a tool without annotations included, waits for a person. `destructiveHint` is shown as such.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from asgiref.sync import async_to_sync

from orgs.models import ClusterConnection
from orgs.services.tool_server_address import tool_server_url_check

MCP_TIMEOUT_S = 10
APPROVAL_NONE, APPROVAL_REQUIRED = "none", "required"


class ToolServerUnreachable(Exception):
    """The MCP server could not be listed (refused address, down, wrong token, not MCP)."""


@dataclass(frozen=True)
class CatalogTool:
    name: str
    title: str
    description: str
    read_only_hint: bool | None
    destructive_hint: bool | None
    idempotent_hint: bool | None
    open_world_hint: bool | None
    offered: bool
    approval: str


def approval_for(annotations) -> str:
    return APPROVAL_NONE if annotations is not None and annotations.read_only_hint is True else APPROVAL_REQUIRED


def _unconfinable(cluster: ClusterConnection) -> bool:
    """Skyflo cannot confine another server's calls to namespaces: such a connection offers none (tool_policy)."""
    return cluster.kind == ClusterConnection.Kind.MCP and bool(cluster.allowed_namespaces)


def catalog_tool(tool, cluster: ClusterConnection) -> CatalogTool:
    notes = tool.annotations
    return CatalogTool(
        name=tool.name,
        title=(notes.title if notes else None) or getattr(tool, "title", None) or "",
        description=(tool.description or "").strip(),
        read_only_hint=notes.read_only_hint if notes else None,
        destructive_hint=notes.destructive_hint if notes else None,
        idempotent_hint=notes.idempotent_hint if notes else None,
        open_world_hint=notes.open_world_hint if notes else None,
        offered=cluster.tool_offered(tool.name) and not _unconfinable(cluster),
        approval=approval_for(notes),
    )


def cluster_tool_catalog(cluster: ClusterConnection) -> list[CatalogTool]:
    """The tools of the cluster's MCP server, by name. The caller checks who is asking (admins)."""
    try:
        tool_server_url_check(cluster.mcp_server_url)  # again: the host may resolve elsewhere than at save
        tools = async_to_sync(mcp_tools_list)(cluster.mcp_server_url, cluster.mcp_server_token)
    except Exception as exc:  # noqa: BLE001 — one sentence for every failure: the reason would map the network
        raise ToolServerUnreachable from exc
    return sorted((catalog_tool(tool, cluster) for tool in tools), key=lambda t: t.name)


async def mcp_tools_list(url: str, token: str) -> list:
    """Every tool the MCP server at `url` lists (all pages), over streamable HTTP with an optional bearer token."""
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client
    from mcp_types import PaginatedRequestParams

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    tools, cursor = [], None
    async with asyncio.timeout(MCP_TIMEOUT_S):
        async with (
            create_mcp_http_client(headers=headers) as client,
            streamable_http_client(url, http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            while True:
                page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
                tools += page.tools
                cursor = page.next_cursor
                if not cursor:
                    return tools
