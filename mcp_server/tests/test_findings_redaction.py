"""Findings 4, 5, 6 and 11 of issue 13: redaction never fails open, works across lines, covers pod specs, and
what it remembers belongs to one call."""

import base64
import json
import secrets

import pytest

from mcp_server.tests.conftest import call_ok, http_session, text_of
from mcp_server.tests.manifests import apply, configmap, deployment

MASK = "***REDACTED***"


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _everything(result, progress=()):
    return json.dumps(result.model_dump(mode="json")) + json.dumps(list(progress))


def _create_secret(cluster, namespace, name, data, type_="Opaque"):
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": type_, "data": data}
    cluster.request("POST", f"/api/v1/namespaces/{namespace}/secrets", body)


@pytest.fixture(scope="module")
def huge_secrets(sandbox_cluster):
    """Two canary Secrets (keys that do not look secret, a helm release) and 9 MiB of others after them."""
    namespace = sandbox_cluster.new_namespace("huge")
    canaries = {"opaque": f"opaque-canary-{secrets.token_hex(6)}", "helm": f"helm-canary-{secrets.token_hex(6)}"}
    _create_secret(sandbox_cluster, namespace, "a-config", {"config.ini": _b64(canaries["opaque"])})
    _create_secret(
        sandbox_cluster, namespace, "b-release", {"release": _b64(canaries["helm"])}, type_="helm.sh/release.v1"
    )
    for n in range(9):
        _create_secret(sandbox_cluster, namespace, f"c-big-{n}", {"blob": _b64(secrets.token_hex(512 * 1024))})
    yield namespace, canaries
    sandbox_cluster.delete_namespace(namespace)


@pytest.mark.parametrize("output", ["json", "yaml"])
async def test_finding_04_secrets_past_8_mib_are_still_redacted(toolserver, huge_secrets, output):
    namespace, canaries = huge_secrets
    async with http_session(toolserver) as session:
        result = await session.call_tool("k8s_get", {"kind": "secrets", "namespace": namespace, "output": output})
    everything = _everything(result)
    assert result.structured_content["truncated"] is True
    assert "a-config" in result.structured_content["output"]
    for canary in canaries.values():
        assert canary not in everything
        assert _b64(canary) not in everything


PEM_BODY = ["MIIEowIBAAKCAQEAx5finding05bodyline1", "finding05bodyline2+/AbCdEfGhIjKlMnOpQrStUv", "ZZZ9finding05=="]
LOGS = "\n".join(
    [
        "starting",
        "loaded key:",
        "-----BEGIN RSA PRIVATE KEY-----",
        *PEM_BODY,
        "-----END RSA PRIVATE KEY-----",
        "config:",
        "  db_password: |",
        "    finding05-multiline-one",
        "    finding05-multiline-two",
        "  level: debug",
        "ready",
    ]
)


async def test_finding_05_live_output_redacts_across_lines(toolserver, sandbox_cluster, k8s_namespace):
    apply(sandbox_cluster, k8s_namespace, deployment("keys", annotations={"sandbox.skyflo.dev/logs": LOGS}))
    config = {"db_password": "finding05-cm-line-1\nfinding05-cm-line-2\n", "mode": "fast"}
    sandbox_cluster.kubectl("create", "-n", k8s_namespace, "-f", "-", input=configmap("creds", config))
    sandbox_cluster.kubectl("rollout", "status", "deployment/keys", "-n", k8s_namespace, "--timeout=30s")
    progress = []

    async def on_progress(value, total, message):
        progress.append(message)

    async with http_session(toolserver) as session:
        logs = await session.call_tool(
            "k8s_logs",
            {"kind": "deployment", "name": "keys", "namespace": k8s_namespace},
            progress_callback=on_progress,
        )
        described = await session.call_tool(
            "k8s_describe",
            {"kind": "configmap", "name": "creds", "namespace": k8s_namespace},
            progress_callback=on_progress,
        )
    assert not logs.is_error, text_of(logs)
    assert not described.is_error, text_of(described)
    assert {"starting", "ready", "  level: debug", "fast"} <= set(progress)
    hidden = [*PEM_BODY, "finding05-multiline-", "finding05-cm-line-"]
    for secret in hidden:
        assert secret not in _everything(logs, progress) + _everything(described)


ENV_SECRET = "finding06-env-value"
URL_SECRET = "finding06-url-pass"


async def test_finding_06_pod_spec_env_and_url_credentials_are_redacted(toolserver, sandbox_cluster, k8s_namespace):
    spec = json.loads(deployment("api"))
    spec["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "LOG_LEVEL", "value": "debug-level-visible"},
        {"name": "DB_PASSWORD", "value": ENV_SECRET},
        {"name": "DATABASE_URL", "value": f"postgres://app:{URL_SECRET}@db.shop:5432/app"},
        {"value": ENV_SECRET + "-2", "name": "STRIPE_API_KEY"},
        {"name": "SIGNING_KEY", "value": ENV_SECRET + "-3"},
    ]
    sandbox_cluster.kubectl("create", "-n", k8s_namespace, "-f", "-", input=json.dumps(spec))
    calls = [
        ("k8s_get", {"kind": "deployment", "name": "api", "output": "yaml"}),
        ("k8s_get", {"kind": "deployment", "name": "api", "output": "json"}),
        ("k8s_get", {"kind": "pods", "selector": "app=api", "output": "yaml"}),
        ("k8s_describe", {"kind": "deployment", "name": "api"}),
    ]
    async with http_session(toolserver) as session:
        results = [await call_ok(session, tool, namespace=k8s_namespace, **args) for tool, args in calls]
    for result in results:
        everything = _everything(result)
        assert ENV_SECRET not in everything
        assert URL_SECRET not in everything
        assert "debug-level-visible" in everything
        assert "db.shop:5432/app" in everything


async def test_finding_11_one_client_cannot_poison_another_clients_output(toolserver, sandbox_cluster, k8s_namespace):
    data = {"mode": _b64("replicas"), "rows": _b64("12345678")}
    _create_secret(sandbox_cluster, k8s_namespace, "poison", data)
    logs = "scaled replicas to 3\nprocessed 12345678 rows\n"
    apply(sandbox_cluster, k8s_namespace, deployment("web", annotations={"sandbox.skyflo.dev/logs": logs}))
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")
    async with http_session(toolserver) as reader:
        read = await call_ok(reader, "k8s_get", kind="secrets", namespace=k8s_namespace, output="yaml")
    async with http_session(toolserver) as other:
        spec = await call_ok(other, "k8s_get", kind="deployment", name="web", namespace=k8s_namespace, output="yaml")
        logged = await call_ok(other, "k8s_logs", kind="deployment", name="web", namespace=k8s_namespace)
    assert MASK in read.structured_content["output"]
    assert "replicas: 1" in spec.structured_content["output"]
    assert MASK not in spec.structured_content["output"]
    assert "processed 12345678 rows" in logged.structured_content["output"]
