"""`python -m mcp_server --stdio` serves the same tools over stdin/stdout."""

import sys

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from mcp_server.testing import REPO_ROOT
from mcp_server.tests.conftest import text_of


async def test_it_serves_tools_over_stdio(sandbox_cluster, k8s_namespace):
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--stdio"],
        env={**sandbox_cluster.env, "PYTHONPATH": str(REPO_ROOT), "MCP_SERVER_TOKEN": ""},
        cwd=REPO_ROOT,
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listing = await session.list_tools()
        result = await session.call_tool("k8s_get", {"kind": "namespaces"})
    assert len(listing.tools) == 31
    assert not result.is_error
    assert k8s_namespace in text_of(result)
