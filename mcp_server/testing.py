"""Pytest plugin (and a plain context manager) that starts the tool server as a real process.

Fixtures:
- `toolserver` (session): `python -m mcp_server --port 0` against `sandbox_cluster.env`, random token.
- `toolserver_factory` (session): `make(read_only=False, allowed_namespaces=None, timeout_s=None, env=None)` → a
  server in that mode, `env` adding variables such as `MCP_HELM_REPOSITORIES` (one process per distinct mode,
  reused, stopped at session end).
Both yield `ToolServer(url=".../mcp", token, env, port, process)`.

Outside pytest: `with run_toolserver(env, read_only=..., allowed_namespaces=[...]) as server: ...`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ToolServer:
    url: str
    token: str
    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def run_toolserver(
    env: Mapping[str, str],
    read_only: bool = False,
    allowed_namespaces: Sequence[str] | None = None,
    *,
    timeout_s: float | None = None,
    allowed_origins: Sequence[str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    startup_timeout_s: float = 30.0,
) -> Iterator[ToolServer]:
    """Start `python -m mcp_server` on a free loopback port; stop it on exit."""
    token = secrets.token_urlsafe(24)
    server_env = {**env, **(extra_env or {}), "MCP_SERVER_TOKEN": token, "MCP_READ_ONLY": "1" if read_only else "0"}
    server_env["MCP_ALLOWED_NAMESPACES"] = ",".join(allowed_namespaces or ())
    server_env["MCP_ALLOWED_ORIGINS"] = ",".join(allowed_origins or ())
    if timeout_s is not None:
        server_env["MCP_TOOL_TIMEOUT_S"] = str(timeout_s)
    server_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="mcp-server-") as tmp:
        port_file = Path(tmp) / "port"
        log = (Path(tmp) / "server.log").open("wb")
        argv = [sys.executable, "-m", "mcp_server", "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)]
        process = subprocess.Popen(  # noqa: S603 - fixed argv, our own module
            argv, env=server_env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            port = _wait_for_port(process, port_file, Path(tmp) / "server.log", startup_timeout_s)
            yield ToolServer(f"http://127.0.0.1:{port}/mcp", token, server_env, port, process)
        finally:
            process_stop(process)
            log.close()


def _wait_for_port(process: subprocess.Popen[bytes], port_file: Path, log: Path, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_file.exists():
            return int(port_file.read_text())
        if process.poll() is not None:
            raise RuntimeError(f"mcp_server exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    raise RuntimeError(f"mcp_server did not start within {timeout_s}s:\n{log.read_text(errors='replace')}")


def process_stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 5 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def toolserver_factory(sandbox_cluster) -> Iterator[Callable[..., ToolServer]]:
    servers: dict[tuple[object, ...], ToolServer] = {}
    with ExitStack() as stack:

        def make(
            read_only: bool = False,
            allowed_namespaces: Sequence[str] | None = None,
            *,
            timeout_s: float | None = None,
            allowed_origins: Sequence[str] | None = None,
            env: Mapping[str, str] | None = None,
        ) -> ToolServer:
            extra = dict(env or {})
            key = (
                read_only,
                tuple(allowed_namespaces or ()),
                timeout_s,
                tuple(allowed_origins or ()),
                tuple(sorted(extra.items())),
            )
            if key not in servers:
                servers[key] = stack.enter_context(
                    run_toolserver(
                        sandbox_cluster.env,
                        read_only,
                        allowed_namespaces,
                        timeout_s=timeout_s,
                        allowed_origins=allowed_origins,
                        extra_env=extra,
                    )
                )
            return servers[key]

        yield make


@pytest.fixture(scope="session")
def toolserver(toolserver_factory) -> ToolServer:
    return toolserver_factory()
