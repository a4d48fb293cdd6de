"""`python -m sandbox --tls-cert/--tls-key/--tls-ca --token`: https with its own CA and a required bearer token,
as a real API server serves (what in-cluster tests of the tool server need)."""

import ssl
import subprocess

import httpx
import pytest

from sandbox.testing import BIN_DIR, run_tls_sandbox


@pytest.fixture(scope="module")
def tls_sandbox(tmp_path_factory):
    with run_tls_sandbox(tmp_path_factory.mktemp("tls")) as sandbox:
        yield sandbox


def kubectl(sandbox, *args, kubeconfig=None):
    env = {**sandbox.env, "KUBECONFIG": str(kubeconfig or sandbox.kubeconfig)}
    return subprocess.run([str(BIN_DIR / "kubectl"), *args], env=env, capture_output=True, text=True, timeout=60)


def test_kubectl_talks_to_it_over_tls_with_the_token(tls_sandbox):
    result = kubectl(tls_sandbox, "get", "namespaces", "-o", "name")

    assert result.returncode == 0, result.stderr
    assert "namespace/default" in result.stdout.split()
    assert f"https://127.0.0.1:{tls_sandbox.port}" in tls_sandbox.kubeconfig.read_text()


def test_a_wrong_token_is_answered_401(tls_sandbox, tmp_path):
    wrong = tmp_path / "kubeconfig"
    wrong.write_text(tls_sandbox.kubeconfig.read_text().replace(tls_sandbox.token, "not-the-token"))

    result = kubectl(tls_sandbox, "get", "namespaces", kubeconfig=wrong)

    assert result.returncode != 0
    assert "Unauthorized" in result.stderr or "provide credentials" in result.stderr


def test_health_is_open_and_the_api_is_not(tls_sandbox):
    trusted = ssl.create_default_context(cadata=tls_sandbox.ca_pem.decode())
    base = f"https://127.0.0.1:{tls_sandbox.port}"

    with httpx.Client(verify=trusted) as client:
        ready = client.get(f"{base}/readyz")
        anonymous = client.get(f"{base}/api/v1/namespaces")
        with_token = client.get(f"{base}/api/v1/namespaces", headers={"Authorization": f"Bearer {tls_sandbox.token}"})

    assert ready.status_code == 200
    # As an API server with anonymous auth on: a request without credentials is system:anonymous, whom no role allows.
    assert anonymous.status_code == 403
    assert anonymous.json()["reason"] == "Forbidden"
    assert 'User "system:anonymous" cannot list resource "namespaces"' in anonymous.json()["message"]
    assert with_token.status_code == 200
    assert with_token.json()["kind"] == "NamespaceList"
