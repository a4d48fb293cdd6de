"""`--metrics-port`: the tool server's metrics on a port of their own, which serves nothing of MCP (so a
NetworkPolicy can open it to Prometheus only), and which wants the metrics token."""

import subprocess
import sys
import time

import httpx
import pytest

from mcp_server.testing import REPO_ROOT, ToolServer
from mcp_server.tests.conftest import http_session
from tests.live import free_port

METRICS_TOKEN = "metrics-token-0123456789abcdef"
MCP_TOKEN = "mcp-token-0123456789abcdef"


@pytest.fixture
def server(sandbox_cluster, tmp_path):
    metrics_port, port_file = free_port(), tmp_path / "port"
    env = {**sandbox_cluster.env, "MCP_SERVER_TOKEN": MCP_TOKEN, "SKYFLO_METRICS_TOKEN": METRICS_TOKEN}
    env["PYTHONPATH"] = str(REPO_ROOT)
    argv = [sys.executable, "-m", "mcp_server", "--port", "0", "--port-file", str(port_file)]
    argv += ["--metrics-port", str(metrics_port)]
    with (tmp_path / "log").open("wb") as log:
        process = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        port = int(port_file.read_text())
        yield ToolServer(f"http://127.0.0.1:{port}/mcp", MCP_TOKEN, env, port, process), metrics_port
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_metrics_live_on_their_own_port(server, k8s_namespace):
    toolserver, metrics_port = server
    async with http_session(toolserver) as session:
        await session.call_tool("k8s_get", {"kind": "pods", "namespace": k8s_namespace})
    metrics_url = f"http://127.0.0.1:{metrics_port}"
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    async with httpx.AsyncClient() as client:
        scraped = await client.get(f"{metrics_url}/metrics", headers=bearer)
        anonymous = await client.get(f"{metrics_url}/metrics")
        no_mcp_here = await client.post(f"{metrics_url}/mcp", headers={"Authorization": f"Bearer {MCP_TOKEN}"})
        ready = await client.get(f"{metrics_url}/readyz")
        not_on_the_mcp_port = await client.get(f"http://127.0.0.1:{toolserver.port}/metrics", headers=bearer)

    assert scraped.status_code == 200
    assert 'skyflo_toolserver_tool_calls_total{outcome="ok",tool="k8s_get"} 1.0' in scraped.text
    assert anonymous.status_code == 401
    assert "skyflo_" not in anonymous.text
    assert no_mcp_here.status_code == 404
    assert ready.status_code == 200
    assert not_on_the_mcp_port.status_code == 401  # the MCP port's guard: the metrics token is not its token
    assert "skyflo_" not in not_on_the_mcp_port.text
