"""The HTTP surface: bearer token on every request but /healthz, Origin allow-list, fail-fast config."""

import os
import subprocess
import sys

import httpx
import pytest

from mcp_server.testing import REPO_ROOT, run_toolserver
from mcp_server.tests.conftest import http_session

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def server():
    with run_toolserver(dict(os.environ), allowed_origins=["https://skyflo.example"]) as running:
        yield running


def test_it_serves_healthz_without_a_token(server):
    response = httpx.get(f"http://127.0.0.1:{server.port}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic Zm9vOmJhcg==", "Bearer x"])
def test_it_refuses_a_missing_or_wrong_bearer_token(server, authorization):
    headers = {**ACCEPT, **({"Authorization": authorization} if authorization else {})}
    response = httpx.post(server.url, json=INIT, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_it_refuses_a_foreign_origin_even_with_the_token(server):
    headers = {**ACCEPT, **server.headers, "Origin": "https://evil.example"}
    response = httpx.post(server.url, json=INIT, headers=headers)
    assert response.status_code == 403


def test_it_accepts_an_allowed_origin_and_no_origin(server):
    for extra in ({"Origin": "https://skyflo.example"}, {}):
        response = httpx.post(server.url, json=INIT, headers={**ACCEPT, **server.headers, **extra})
        assert response.status_code == 200, response.text


async def test_it_serves_a_real_mcp_session_over_streamable_http(server):
    async with http_session(server) as session:
        listing = await session.list_tools()
    assert len(listing.tools) == 31


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MCP_SERVER_TOKEN": ""}, "MCP_SERVER_TOKEN"),
        ({"MCP_SERVER_TOKEN": "t", "MCP_TOOL_TIMEOUT_S": "soon"}, "MCP_TOOL_TIMEOUT_S"),
        ({"MCP_SERVER_TOKEN": "t", "MCP_READ_ONLY": "maybe"}, "MCP_READ_ONLY"),
        ({"MCP_SERVER_TOKEN": "t", "MCP_ALLOWED_NAMESPACES": "ok,Not_Valid"}, "MCP_ALLOWED_NAMESPACES"),
        ({"MCP_SERVER_TOKEN": "t", "MCP_ALLOWED_ORIGINS": "evil"}, "MCP_ALLOWED_ORIGINS"),
        ({"MCP_SERVER_TOKEN": "t", "KUBECONFIG": "/nonexistent/kubeconfig"}, "KUBECONFIG"),
    ],
)
def test_it_fails_at_start_naming_the_bad_variable(env, variable):
    result = subprocess.run(
        [sys.executable, "-m", "mcp_server", "--port", "0"],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert variable in result.stderr
