"""Shared helpers: a real MCP `ClientSession` in memory (SDK in-memory transport) or over streamable HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp.client._memory import InMemoryTransport
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CallToolResult

from mcp_server.config import config_from_env
from mcp_server.server import build_server
from mcp_server.testing import ToolServer

_SHARED_SERVERS: dict[tuple[tuple[str, str], ...], MCPServer[Any]] = {}


@asynccontextmanager
async def memory_session(
    env: Mapping[str, str], *, fresh: bool = True, **overrides: str
) -> AsyncIterator[ClientSession]:
    """A client session wired in memory to a server configured from `env` + overrides.

    `fresh=False` reuses one server per configuration (building one registers 31 tools, ~0.4 s); a fresh one
    has learned no secret values from earlier calls.
    """
    environ = {**env, **overrides}
    key = tuple(sorted(environ.items()))
    if fresh or key not in _SHARED_SERVERS:
        server = build_server(config_from_env(environ))
        if not fresh:
            _SHARED_SERVERS[key] = server
    else:
        server = _SHARED_SERVERS[key]
    async with InMemoryTransport(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def http_session(server: ToolServer) -> AsyncIterator[ClientSession]:
    """A client session over streamable HTTP to a tool server process."""
    async with (
        create_mcp_http_client(headers=server.headers) as client,
        streamable_http_client(server.url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


async def call_ok(session: ClientSession, tool: str, **arguments: Any) -> CallToolResult:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    return result


@pytest.fixture
async def mcp(sandbox_cluster) -> AsyncIterator[ClientSession]:
    """An in-memory session held open by its own task (pytest-asyncio sets up and tears down fixtures in
    different tasks, which anyio cancel scopes do not allow)."""
    ready: asyncio.Future[ClientSession] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def hold() -> None:
        async with memory_session(sandbox_cluster.env, fresh=False) as session:
            ready.set_result(session)
            await done.wait()

    holder = asyncio.create_task(hold())
    await asyncio.wait([holder, ready], return_when=asyncio.FIRST_COMPLETED)
    if holder.done():
        holder.result()
    yield ready.result()
    done.set()
    await holder
