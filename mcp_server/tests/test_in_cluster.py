"""In-cluster identity: no kubeconfig, a ServiceAccount mounted as Kubernetes mounts it, and an API server that
serves TLS with its own CA and requires the ServiceAccount's token. The tool server's kubectl and helm must use
exactly those."""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mcp_server.testing import REPO_ROOT, run_toolserver
from mcp_server.tests.conftest import http_session, text_of

BIN_DIR = REPO_ROOT / ".bin"


@dataclass
class TlsCluster:
    port: int
    token: str
    ca_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool, san=None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _write_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it, as PEM files."""
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("sandbox-ca", "sandbox-ca", ca_key.public_key(), ca_key, ca=True)
    san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("kubernetes.default.svc")]
    server = _certificate("kube-apiserver", "sandbox-ca", server_key.public_key(), ca_key, ca=False, san=san)
    paths = directory / "ca.crt", directory / "server.crt", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def _wait_https(port: int, ca: Path, process: subprocess.Popen, log: Path) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=context, timeout=1):  # noqa: S310
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sandbox did not answer over TLS:\n{log.read_text()}")


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory) -> Iterator[TlsCluster]:
    workdir = tmp_path_factory.mktemp("tls-sandbox")
    ca, cert, key = _write_pki(workdir)
    token = secrets.token_urlsafe(32)
    kubeconfig, log = workdir / "kubeconfig", workdir / "sandbox.log"
    argv = [sys.executable, "-m", "sandbox", "--port", "0", "--kubeconfig", str(kubeconfig), "--scenario", "demo"]
    argv += ["--tls-cert", str(cert), "--tls-key", str(key), "--tls-ca", str(ca), "--token", token]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 30
        while not kubeconfig.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        port = int(kubeconfig.read_text().split("server: https://127.0.0.1:")[1].split()[0])
        _wait_https(port, ca, process, log)
        yield TlsCluster(port=port, token=token, ca_pem=ca.read_bytes())
    finally:
        process.terminate()
        process.wait(timeout=10)


def _mount_service_account(directory: Path, *, token: str, ca_pem: bytes, namespace: str) -> Path:
    """The layout the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount."""
    directory.mkdir(parents=True)
    (directory / "token").write_text(token)
    (directory / "ca.crt").write_bytes(ca_pem)
    (directory / "namespace").write_text(namespace)
    return directory


def _pod_env(tmp_path: Path, cluster: TlsCluster, account: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "HELM_"))}
    env.update(
        PATH=f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(tmp_path / "home"),  # no ~/.kube/config there
        KUBECACHEDIR=str(tmp_path / "kube-cache"),
        KUBERNETES_SERVICE_HOST="127.0.0.1",
        KUBERNETES_SERVICE_PORT=str(cluster.port),
        MCP_SERVICE_ACCOUNT_DIR=str(account),
    )
    return env


async def test_kubectl_and_helm_use_the_mounted_service_account(tls_cluster, tmp_path):
    account = _mount_service_account(
        tmp_path / "serviceaccount", token=tls_cluster.token, ca_pem=tls_cluster.ca_pem, namespace="shop"
    )

    with run_toolserver(_pod_env(tmp_path, tls_cluster, account)) as server:
        async with http_session(server) as session:
            pods = await session.call_tool("k8s_get", {"kind": "deployments"})
            releases = await session.call_tool("helm_list", {})

    assert not pods.is_error, text_of(pods)
    # No -n given: the demo's deployments live in `shop`, the namespace named by the mounted `namespace` file.
    assert text_of(pods).startswith("$ kubectl get deployments -o wide\n")
    for name in ("web", "checkout", "payments"):
        assert name in text_of(pods)
    assert not releases.is_error, text_of(releases)
    assert "NAME" in text_of(releases)
    assert tls_cluster.token not in text_of(pods) + text_of(releases)


async def test_a_wrong_token_is_refused_by_the_api_server(tls_cluster, tmp_path):
    account = _mount_service_account(
        tmp_path / "serviceaccount", token="not-the-token", ca_pem=tls_cluster.ca_pem, namespace="shop"
    )

    with run_toolserver(_pod_env(tmp_path, tls_cluster, account)) as server:
        async with http_session(server) as session:
            result = await session.call_tool("k8s_get", {"kind": "pods"})

    assert result.is_error
    assert "Unauthorized" in text_of(result) or "provide credentials" in text_of(result)


async def test_a_certificate_from_another_ca_is_not_trusted(tls_cluster, tmp_path):
    other_ca = _write_pki(tmp_path)[0].read_bytes()
    account = _mount_service_account(
        tmp_path / "serviceaccount", token=tls_cluster.token, ca_pem=other_ca, namespace="shop"
    )

    with run_toolserver(_pod_env(tmp_path, tls_cluster, account)) as server:
        async with http_session(server) as session:
            result = await session.call_tool("k8s_get", {"kind": "pods"})

    assert result.is_error
    assert "certificate" in text_of(result)


def test_readyz_answers_without_a_token_once_kubectl_and_helm_are_found(tls_cluster, tmp_path):
    account = _mount_service_account(
        tmp_path / "serviceaccount", token=tls_cluster.token, ca_pem=tls_cluster.ca_pem, namespace="shop"
    )
    env = _pod_env(tmp_path, tls_cluster, account)

    with run_toolserver(env) as ready, run_toolserver({**env, "PATH": "/nonexistent"}) as missing:
        ok = httpx.get(f"http://127.0.0.1:{ready.port}/readyz")
        not_ok = httpx.get(f"http://127.0.0.1:{missing.port}/readyz")

    assert ok.status_code == 200
    assert ok.json() == {"status": "ok", "checks": {"kubectl": True, "helm": True}}
    assert not_ok.status_code == 503
    assert not_ok.json()["checks"] == {"kubectl": False, "helm": False}
