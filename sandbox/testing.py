"""Pytest fixtures (and a plain context manager) that run the sandbox API server as a subprocess.

Loaded as a pytest plugin from the root conftest.py, so the import stays light: stdlib and pytest only.

- `sandbox_cluster` (session): a `SandboxProcess` for one `python -m sandbox --port 0` per test session, with a
  fresh PostgreSQL database for helm's SQL storage driver (created on the server in `DATABASE_URL`, dropped at the
  end).
- `k8s_namespace` (function): a fresh, uniquely named namespace on that cluster, deleted after the test.
- `run_sandbox(port=0, scenarios=(), helm_database=False)`: the same process outside pytest.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = REPO_ROOT / ".bin"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/"
START_TIMEOUT = 20.0


class CommandFailed(subprocess.CalledProcessError):
    """A kubectl/helm call exited non-zero; the message carries its stderr."""

    def __str__(self) -> str:
        return f"{' '.join(self.cmd)} exited {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


@dataclass
class SandboxProcess:
    """A running sandbox API server and an environment in which kubectl and helm talk to it.

    Attributes: `url` (http://127.0.0.1:PORT), `kubeconfig` (path), `env` (os.environ + PATH with .bin first,
    KUBECONFIG, a private KUBECACHEDIR, HELM_* homes and, with a helm database, HELM_DRIVER=sql and
    HELM_DRIVER_SQL_CONNECTION_STRING), `process` (the Popen), `workdir` (temp dir holding logs and homes).
    """

    url: str
    kubeconfig: str
    env: dict[str, str]
    process: subprocess.Popen
    workdir: str
    helm_database: str | None = None
    _admin_url: str | None = field(default=None, repr=False)

    def _run(self, tool: str, args: tuple[str, ...], input: str | None, check: bool, timeout: float):
        exe = shutil.which(tool, path=self.env["PATH"]) or tool
        result = subprocess.run(  # noqa: S603 - fixed tool, test-controlled arguments
            [exe, *args], env=self.env, input=input, text=True, capture_output=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise CommandFailed(result.returncode, [tool, *args], result.stdout, result.stderr)
        return result

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return self._run("kubectl", args, input, check, timeout)

    def helm(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self._run("helm", args, input, check, timeout)

    def get_json(self, kind: str, name: str, namespace: str | None = None) -> dict:
        args = ["get", kind, name, "-o", "json"]
        if namespace:
            args += ["-n", namespace]
        return json.loads(self.kubectl(*args).stdout)

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """A raw HTTP call to the server (used for setup; tests should drive kubectl)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310 - http://127.0.0.1
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return json.loads(resp.read() or b"{}")

    def requests_log(self, contains: str = "") -> list[dict]:
        """The server's record of the resource requests it received: {at (epoch s, on receipt), method, path,
        query, dry_run, status (None until answered)}."""
        query = f"?contains={urllib.parse.quote(contains)}" if contains else ""
        return self.request("GET", f"/sandbox/requests{query}")["requests"]

    def changes(self, contains: str = "", *, answered: bool = True) -> list[dict]:
        """The requests that change something (not GET, not a dry run) whose path contains `contains`; with
        `answered=False` also those the server is still working on."""
        return [
            r
            for r in self.requests_log(contains)
            if r["method"] != "GET" and not r["dry_run"] and (r["status"] is not None or not answered)
        ]

    def scenario(self, name: str, namespace: str | None = None) -> list[str]:
        """Seed a named scenario (default namespace `shop`); returns `kind/name` of the objects it created."""
        query = f"?namespace={urllib.parse.quote(namespace)}" if namespace else ""
        return self.request("POST", f"/sandbox/scenarios/{name}{query}")["objects"]

    def new_namespace(self, prefix: str = "test") -> str:
        base = re.sub(r"[^a-z0-9-]", "-", prefix.lower()).strip("-")[:40] or "test"
        name = f"{base}-{secrets.token_hex(3)}"
        self.request(
            "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )
        return name

    def delete_namespace(self, name: str) -> None:
        with contextlib.suppress(urllib.error.HTTPError):
            self.request("DELETE", f"/api/v1/namespaces/{name}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.helm_database and self._admin_url:
            _drop_database(self._admin_url, self.helm_database)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _server_url(database_url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(database_url)
    return urllib.parse.urlunsplit(("postgresql", parts.netloc, f"/{dbname}", parts.query, ""))


def _create_database(database_url: str) -> tuple[str, str]:
    import psycopg

    name = f"sandbox_helm_{os.getpid()}_{secrets.token_hex(4)}"
    admin = _server_url(database_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        _drop_orphans(conn)
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin, name


def _drop_orphans(conn) -> None:
    """Drop helm databases left behind by killed sessions (their pid no longer runs on this host)."""
    rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'sandbox_helm_%'").fetchall()
    for (name,) in rows:
        pid = name.split("_")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(Exception):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with contextlib.suppress(psycopg.Error), psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _helm_connection_string(database_url: str, name: str) -> str:
    url = _server_url(database_url, name)
    return url if "sslmode=" in url else url + ("&" if "?" in url else "?") + "sslmode=disable"


def _wait_ready(process: subprocess.Popen, kubeconfig: Path, log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited with {process.returncode}:\n{log_path.read_text()}")
        if url is None and kubeconfig.exists():
            match = re.search(r"server:\s*(\S+)", kubeconfig.read_text())
            url = match.group(1) if match else None
        if url is not None:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/readyz", timeout=1) as resp,  # noqa: S310
            ):
                if resp.status == 200:
                    return url
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"sandbox did not become ready in {START_TIMEOUT}s:\n{log_path.read_text()}")


def start_sandbox(port: int = 0, scenarios: tuple[str, ...] = (), helm_database: bool = False) -> SandboxProcess:
    """Start `python -m sandbox` and wait for /readyz; the caller must `close()` the result."""
    workdir = Path(tempfile.mkdtemp(prefix="skyflo-sandbox-"))
    kubeconfig, log_path = workdir / "kubeconfig", workdir / "sandbox.log"
    cmd = [sys.executable, "-m", "sandbox", "--port", str(port), "--kubeconfig", str(kubeconfig)]
    for name in scenarios:
        cmd += ["--scenario", name]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        url = _wait_ready(process, kubeconfig, log_path)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    env = dict(os.environ)
    env.update(
        PATH=f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}",
        KUBECONFIG=str(kubeconfig),
        KUBECACHEDIR=str(workdir / "kube-cache"),
        HELM_CACHE_HOME=str(workdir / "helm-cache"),
        HELM_CONFIG_HOME=str(workdir / "helm-config"),
        HELM_DATA_HOME=str(workdir / "helm-data"),
    )
    sandbox = SandboxProcess(url=url, kubeconfig=str(kubeconfig), env=env, process=process, workdir=str(workdir))
    if helm_database:
        database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        try:
            sandbox._admin_url, sandbox.helm_database = _create_database(database_url)
        except BaseException:
            sandbox.close()
            raise
        env.update(
            HELM_DRIVER="sql",
            HELM_DRIVER_SQL_CONNECTION_STRING=_helm_connection_string(database_url, sandbox.helm_database),
        )
    return sandbox


@contextlib.contextmanager
def run_sandbox(
    port: int = 0, scenarios: tuple[str, ...] = (), helm_database: bool = False
) -> Iterator[SandboxProcess]:
    """`with run_sandbox(scenarios=("demo",)) as sb: sb.kubectl("get", "pods", "-A")` — stops the server on exit."""
    sandbox = start_sandbox(port, scenarios, helm_database)
    try:
        yield sandbox
    finally:
        sandbox.close()


@pytest.fixture(scope="session")
def sandbox_cluster() -> Iterator[SandboxProcess]:
    with run_sandbox(helm_database=True) as sandbox:
        yield sandbox


@pytest.fixture
def k8s_namespace(sandbox_cluster: SandboxProcess) -> Iterator[str]:
    name = sandbox_cluster.new_namespace("test")
    yield name
    sandbox_cluster.delete_namespace(name)
