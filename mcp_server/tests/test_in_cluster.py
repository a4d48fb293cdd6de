"""In-cluster identity: no kubeconfig, a ServiceAccount mounted as Kubernetes mounts it, and an API server that
serves TLS with its own CA and requires the ServiceAccount's token. The tool server's kubectl and helm must use
exactly those."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mcp_server.testing import REPO_ROOT, run_toolserver
from mcp_server.tests.conftest import http_session, text_of
from sandbox.pki import write_test_pki
from sandbox.testing import TlsSandbox, run_tls_sandbox

BIN_DIR = REPO_ROOT / ".bin"


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory) -> Iterator[TlsSandbox]:
    with run_tls_sandbox(tmp_path_factory.mktemp("tls-sandbox"), scenarios=("demo",)) as sandbox:
        yield sandbox


def _mount_service_account(directory: Path, *, token: str, ca_pem: bytes, namespace: str) -> Path:
    """The layout the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount."""
    directory.mkdir(parents=True)
    (directory / "token").write_text(token)
    (directory / "ca.crt").write_bytes(ca_pem)
    (directory / "namespace").write_text(namespace)
    return directory


def _pod_env(tmp_path: Path, cluster: TlsSandbox, account: Path) -> dict[str, str]:
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
    other_ca = write_test_pki(tmp_path)[0].read_bytes()
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
