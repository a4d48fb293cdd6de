"""Helm tools against the sandbox (SQL storage driver), with a chart served from a repository the test runs."""

import json

import pytest

from mcp_server.tests.charts import chart_repository
from mcp_server.tests.conftest import call_ok, memory_session, text_of

CANARY = "helm-canary-pw-7Qz"


@pytest.fixture(scope="module")
def repo(sandbox_cluster, tmp_path_factory):
    with chart_repository(sandbox_cluster, tmp_path_factory.mktemp("charts")) as listener:
        yield listener


@pytest.fixture
def chart(repo):
    return f"{repo.url}/greeter-0.1.0.tgz"


def _session(cluster, repo):
    return memory_session(cluster.env, MCP_HELM_REPOSITORIES=repo.url)


def _greeting(cluster, namespace):
    return cluster.get_json("configmap", "rel-config", namespace)["data"]["greeting"]


async def test_it_renders_a_chart_without_installing(sandbox_cluster, repo, k8s_namespace, chart):
    async with _session(sandbox_cluster, repo) as mcp:
        result = await call_ok(
            mcp,
            "helm_template",
            release="rel",
            chart=chart,
            namespace=k8s_namespace,
            values_yaml=f"auth: {{password: {CANARY}}}",
        )
    assert "name: rel-config" in result.structured_content["output"]
    assert CANARY not in json.dumps(result.model_dump(mode="json"))
    assert sandbox_cluster.kubectl("get", "configmap", "rel-config", "-n", k8s_namespace, check=False).returncode != 0


async def test_it_manages_a_release_lifecycle(sandbox_cluster, repo, k8s_namespace, chart):
    async with _session(sandbox_cluster, repo) as mcp:
        await _lifecycle(mcp, sandbox_cluster, k8s_namespace, chart)


async def _lifecycle(mcp, sandbox_cluster, ns, chart):
    values = f"greeting: hi\nauth:\n  password: {CANARY}\n"
    install = await call_ok(mcp, "helm_install", release="rel", chart=chart, namespace=ns, values_yaml=values)
    assert text_of(install).startswith(f"$ helm install rel {chart} -n {ns} -f -")
    assert _greeting(sandbox_cluster, ns) == "hi"

    listing = await call_ok(mcp, "helm_list", namespace=ns)
    assert "rel" in listing.structured_content["output"]
    status = await call_ok(mcp, "helm_status", release="rel", namespace=ns)
    assert "deployed" in status.structured_content["output"]
    got = await call_ok(mcp, "helm_get_values", release="rel", namespace=ns)
    assert "greeting: hi" in got.structured_content["output"]
    manifest = await call_ok(mcp, "helm_get_manifest", release="rel", namespace=ns)
    assert "rel-config" in manifest.structured_content["output"]
    for result in (install, got, manifest):
        assert CANARY not in json.dumps(result.model_dump(mode="json"))

    await call_ok(
        mcp, "helm_upgrade", release="rel", chart=chart, namespace=ns, reuse_values=True, set_values={"greeting": "hey"}
    )
    assert _greeting(sandbox_cluster, ns) == "hey"
    history = await call_ok(mcp, "helm_history", release="rel", namespace=ns)
    assert len([line for line in history.structured_content["output"].splitlines() if line[:1].isdigit()]) == 2
    await call_ok(mcp, "helm_rollback", release="rel", revision=1, namespace=ns)
    assert _greeting(sandbox_cluster, ns) == "hi"
    await call_ok(mcp, "helm_uninstall", release="rel", namespace=ns)
    assert sandbox_cluster.kubectl("get", "configmap", "rel-config", "-n", ns, check=False).returncode != 0


async def test_it_adds_a_configured_chart_repository(sandbox_cluster, repo):
    async with _session(sandbox_cluster, repo) as mcp:
        await call_ok(mcp, "helm_repo_add", name="local-charts", url=repo.url)
    assert "local-charts" in sandbox_cluster.helm("repo", "list").stdout
