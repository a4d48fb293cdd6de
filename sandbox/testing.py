"""Pytest fixtures (and a plain context manager) that run the sandbox API server as a subprocess.

Loaded as a pytest plugin from the root conftest.py, so the import stays light: stdlib and pytest only.

- `sandbox_cluster` (session): a `SandboxProcess` for one `python -m sandbox --port 0` per test session, with a
  fresh PostgreSQL database for helm's SQL storage driver (created on the server in `DATABASE_URL`, dropped at the
  end).
- `k8s_namespace` (function): a fresh, uniquely named namespace on that cluster, deleted after the test.
- `run_sandbox(port=0, scenarios=(), helm_database=False)`: the same process outside pytest.
- `run_tls_sandbox(workdir, scenarios=())`: a sandbox serving https with a throwaway CA and requiring a bearer
  token, as a real API server does (`TlsSandbox`: port, token, ca_pem, kubeconfig with both, env for kubectl).
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


def _run(env: dict, tool: str, args: tuple[str, ...], input: str | None, check: bool, timeout: float):
    exe = shutil.which(tool, path=env["PATH"]) or tool
    result = subprocess.run(  # noqa: S603 - fixed tool, test-controlled arguments
        [exe, *args], env=env, input=input, text=True, capture_output=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise CommandFailed(result.returncode, [tool, *args], result.stdout, result.stderr)
    return result


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
    admin_token: str = field(default="", repr=False)
    helm_database: str | None = None
    _admin_url: str | None = field(default=None, repr=False)

    def _run(self, tool: str, args: tuple[str, ...], input: str | None, check: bool, timeout: float):
        return _run(self.env, tool, args, input, check, timeout)

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return self._run("kubectl", args, input, check, timeout)

    def kubectl_as(
        self, token: str, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """kubectl authenticated by `token` (from `add_user`) instead of the admin's kubeconfig."""
        env = dict(self.env, KUBECONFIG=self.kubeconfig_for(token))
        return _run(env, "kubectl", args, input, check, timeout)

    def kubeconfig_for(self, token: str) -> str:
        """A kubeconfig authenticating as `token`. kubectl sends credentials only over TLS, so on plain HTTP the
        token rides in the server URL's path (`/identity/<token>`, see sandbox/rbac.py)."""
        path = Path(self.workdir) / f"kubeconfig-{token[:12]}"
        if not path.exists():
            text = Path(self.kubeconfig).read_text()
            if self.url.startswith("http://"):
                text = text.replace(f"server: {self.url}", f"server: {self.url}/identity/{token}")
            path.write_text(re.sub(r"token:\s*\S+", f"token: {token}", text))
        return str(path)

    def helm(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self._run("helm", args, input, check, timeout)

    def get_json(self, kind: str, name: str, namespace: str | None = None) -> dict:
        args = ["get", kind, name, "-o", "json"]
        if namespace:
            args += ["-n", namespace]
        return json.loads(self.kubectl(*args).stdout)

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
        """A raw HTTP call to the server as the admin, or as `token` (used for setup; tests should drive kubectl)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310 - http://127.0.0.1
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", f"Bearer {token or self.admin_token}")
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return json.loads(resp.read() or b"{}")

    def requests_log(self, contains: str = "") -> list[dict]:
        """The server's record of the requests it received (sandbox/audit.py: time on receipt, method, path, query,
        dry_run, status None until answered, who), oldest first."""
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

    def requests_after(self, seq: int = 0) -> tuple[int, list[dict]]:
        """The server's request log after `seq` (sandbox/audit.py): (last seq, entries)."""
        body = self.request("GET", f"/sandbox/requests?after={seq}")
        return body["last"], body["requests"]

    def add_user(self, name: str, groups: tuple[str, ...] | list[str] = ()) -> str:
        """A bearer token for a new identity `name` in `groups` (plus system:authenticated); RBAC applies to it.
        Use it with `kubectl("--token", token, ...)`, or impersonate with `kubectl("--as", name, ...)`."""
        return self.request("POST", "/sandbox/users", {"name": name, "groups": list(groups)})["token"]

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


def _kubeconfig_token(kubeconfig: str) -> str:
    match = re.search(r"token:\s*(\S+)", Path(kubeconfig).read_text())
    return match.group(1) if match else ""


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
    sandbox = SandboxProcess(
        url=url,
        kubeconfig=str(kubeconfig),
        env=env,
        process=process,
        workdir=str(workdir),
        admin_token=_kubeconfig_token(str(kubeconfig)),
    )
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


@dataclass
class TlsSandbox:
    port: int
    token: str
    ca_pem: bytes
    kubeconfig: Path
    env: dict[str, str]


def _wait_https(port: int, ca: Path, process: subprocess.Popen, log: Path) -> None:
    import ssl

    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=context, timeout=1):  # noqa: S310
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sandbox did not answer over TLS:\n{log.read_text()}")


@contextlib.contextmanager
def run_tls_sandbox(workdir: Path, scenarios: tuple[str, ...] = ()) -> Iterator[TlsSandbox]:
    """`python -m sandbox` over https (a CA made for it) that answers 401 without its bearer token."""
    from sandbox.pki import write_test_pki

    ca, cert, key = write_test_pki(workdir)
    token, kubeconfig, log = secrets.token_urlsafe(32), workdir / "kubeconfig", workdir / "sandbox.log"
    argv = [sys.executable, "-m", "sandbox", "--port", "0", "--kubeconfig", str(kubeconfig), "--token", token]
    argv += ["--tls-cert", str(cert), "--tls-key", str(key), "--tls-ca", str(ca)]
    argv += [arg for name in scenarios for arg in ("--scenario", name)]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not kubeconfig.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        port = int(re.search(r"server: https://127\.0\.0\.1:(\d+)", kubeconfig.read_text()).group(1))
        _wait_https(port, ca, process, log)
        env = {**os.environ, "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.update(KUBECONFIG=str(kubeconfig), KUBECACHEDIR=str(workdir / "kube-cache"))
        yield TlsSandbox(port=port, token=token, ca_pem=ca.read_bytes(), kubeconfig=kubeconfig, env=env)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def sandbox_cluster() -> Iterator[SandboxProcess]:
    with run_sandbox(helm_database=True) as sandbox:
        yield sandbox


@pytest.fixture
def k8s_namespace(sandbox_cluster: SandboxProcess) -> Iterator[str]:
    name = sandbox_cluster.new_namespace("test")
    yield name
    sandbox_cluster.delete_namespace(name)
