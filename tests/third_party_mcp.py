"""Pytest plugin (and a plain context manager) that runs Red Hat's kubernetes-mcp-server, the real third-party MCP
server, against a sandbox cluster.

The binary is `.bin/kubernetes-mcp-server`, fetched pinned by `scripts/kubernetes_mcp_server.sh` (bootstrap runs it).
Where it cannot be had (not Linux x86_64, or no npm) the tests that need it are skipped and say why; where it could be
had but is missing, they fail, so our CI never skips them silently.

- `run_kubernetes_mcp_server(kubeconfig, env, read_only=False, disable_destructive=False, toolsets=None)`: the server
  on a free loopback port (`--bind-address 127.0.0.1` always: its default is every interface), yields a
  `ThirdPartyServer(url=".../mcp", process, log_path)`.
- `kubernetes_mcp_server` (session fixture): that server against `sandbox_cluster` with its default toolsets.
- `mcp_session(url)`: an initialised MCP `ClientSession` over streamable HTTP (the SDK's client, as agents/ uses).
"""

from __future__ import annotations

import contextlib
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mcp_server.testing import process_stop
from tests.live import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
BINARY = REPO_ROOT / ".bin" / "kubernetes-mcp-server"
START_TIMEOUT_S = 30.0
# Settings the server reads from the environment that must not leak in from a developer's shell.
SCRUBBED_ENV_PREFIXES = ("OTEL_", "K8S_MCP_")


@dataclass
class ThirdPartyServer:
    url: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)


def binary_or_skip() -> Path:
    """The binary; a skip saying why on machines that cannot have it; a failure where it is merely missing."""
    if BINARY.exists():
        return BINARY
    machine = f"{platform.system()}-{platform.machine()}"
    if machine != "Linux-x86_64":
        pytest.skip(f"kubernetes-mcp-server is fetched for Linux x86_64 only (this machine: {machine})")
    if shutil.which("npm") is None:
        pytest.skip("kubernetes-mcp-server is fetched with npm, which this machine lacks")
    pytest.fail(f"{BINARY} is missing: run scripts/kubernetes_mcp_server.sh (scripts/bootstrap.sh does)")


def _healthy(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_healthy(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kubernetes-mcp-server exited with {process.returncode}:\n{log_path.read_text()}")
        if _healthy(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"kubernetes-mcp-server did not start in {START_TIMEOUT_S}s:\n{log_path.read_text()}")


@contextlib.contextmanager
def run_kubernetes_mcp_server(
    kubeconfig: str,
    env: Mapping[str, str],
    *,
    read_only: bool = False,
    disable_destructive: bool = False,
    toolsets: Sequence[str] | None = None,
) -> Iterator[ThirdPartyServer]:
    binary = binary_or_skip()
    server_env = {k: v for k, v in env.items() if not k.startswith(SCRUBBED_ENV_PREFIXES)}
    with tempfile.TemporaryDirectory(prefix="kubernetes-mcp-server-") as tmp:
        log_path = Path(tmp) / "server.log"
        port = free_port()
        argv = [str(binary), "--port", str(port), "--bind-address", "127.0.0.1", "--kubeconfig", kubeconfig]
        argv += ["--cluster-provider", "kubeconfig", "--log-file", str(log_path)]
        argv += ["--read-only"] if read_only else []
        argv += ["--disable-destructive"] if disable_destructive else []
        argv += ["--toolsets", ",".join(toolsets)] if toolsets else []
        server_env["HOME"] = tmp
        process = subprocess.Popen(  # noqa: S603 - our pinned binary, fixed flags
            argv, env=server_env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_healthy(process, port, log_path)
            yield ThirdPartyServer(f"http://127.0.0.1:{port}/mcp", port, log_path, process)
        finally:
            process_stop(process)


@contextlib.asynccontextmanager
async def mcp_session(url: str, token: str | None = None) -> AsyncIterator:
    """An initialised `mcp.client.session.ClientSession` with the server at `url`."""
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0)) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@pytest.fixture(scope="session")
def kubernetes_mcp_server(sandbox_cluster) -> Iterator[ThirdPartyServer]:
    with run_kubernetes_mcp_server(sandbox_cluster.kubeconfig, sandbox_cluster.env) as server:
        yield server
