"""Findings 12 and 20 of issue 13: helm reads charts only from configured repositories, never local paths or
other URLs, and one `set_values` entry sets exactly one key."""

import pytest

from mcp_server.tests.charts import chart_repository, serve_directory, write_chart
from mcp_server.tests.conftest import call_ok, http_session, text_of


@pytest.fixture(scope="module")
def repo(sandbox_cluster, tmp_path_factory):
    with chart_repository(sandbox_cluster, tmp_path_factory.mktemp("charts")) as listener:
        yield listener


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """A server the tool server must never contact (it also serves a chart, to make fetching it worthwhile)."""
    root = tmp_path_factory.mktemp("outside")
    (root / "index.yaml").write_text("apiVersion: v1\nentries: {}\n")
    with serve_directory(root) as listener:
        yield listener


@pytest.fixture
def server(toolserver_factory, repo):
    return toolserver_factory(env={"MCP_HELM_REPOSITORIES": repo.url})


async def test_finding_12_helm_reads_only_configured_repositories(server, repo, outside, k8s_namespace, tmp_path):
    local_chart = str(write_chart(tmp_path))
    charts = [
        f"{outside.url}/greeter-0.1.0.tgz",
        f"{repo.url}.evil.example/greeter-0.1.0.tgz",
        "oci://127.0.0.1:1/charts/greeter",
        local_chart,
        "/etc",
        "../../etc",
        "file:///etc/passwd",
        "nosuchrepo/greeter",
    ]
    async with http_session(server) as session:
        rendered = await call_ok(
            session, "helm_template", release="r", chart=f"{repo.url}/greeter-0.1.0.tgz", namespace=k8s_namespace
        )
        templates = [
            await session.call_tool("helm_template", {"release": "r", "chart": c, "namespace": k8s_namespace})
            for c in charts
        ]
        installs = [
            await session.call_tool(tool, {"release": "r", "chart": c, "namespace": k8s_namespace})
            for tool in ("helm_install", "helm_upgrade")
            for c in charts[:2]
        ]
        repo_added = await session.call_tool("helm_repo_add", {"name": "evil", "url": outside.url})
        good_repo = await call_ok(session, "helm_repo_add", name="allowed", url=repo.url)
        by_name = await call_ok(session, "helm_template", release="r", chart="allowed/greeter", namespace=k8s_namespace)
    assert "name: r-config" in rendered.structured_content["output"]
    assert "name: r-config" in by_name.structured_content["output"]
    assert good_repo.structured_content["exit_code"] == 0
    refusals = [*templates, *installs, repo_added]
    assert [r.is_error for r in refusals] == [True] * len(refusals)
    for result in refusals:
        assert text_of(result).startswith("refused by the tool server's policy"), text_of(result)
        assert "MCP_HELM_REPOSITORIES" in text_of(result)
    # one sentence whatever the path: no oracle for which local paths exist
    assert len({text_of(r).replace(c, "<chart>") for r, c in zip(templates[3:], charts[3:], strict=True)}) == 1
    assert outside.requests == []


async def test_finding_20_set_value_with_commas_sets_one_key(server, repo, k8s_namespace):
    chart = f"{repo.url}/greeter-0.1.0.tgz"
    async with http_session(server) as session:
        result = await call_ok(
            session,
            "helm_template",
            release="r",
            chart=chart,
            namespace=k8s_namespace,
            set_values={"a": "1,b=2", "greeting": "{x,y}"},
        )
    output = result.structured_content["output"]
    assert 'a: "1,b=2"' in output
    assert 'b: "unset"' in output
    assert 'greeting: "{x,y}"' in output


async def test_finding_03_helm_release_cannot_escape_namespaces(toolserver_factory, repo, sandbox_cluster):
    ns = sandbox_cluster.new_namespace("confined")
    other = sandbox_cluster.new_namespace("other")
    server = toolserver_factory(allowed_namespaces=[ns], env={"MCP_HELM_REPOSITORIES": repo.url})
    chart = f"{repo.url}/escalator-0.1.0.tgz"
    attempts = [{"clusterWide": True}, {"elsewhere": other}, {"hookElsewhere": other}]
    async with http_session(server) as session:
        refused = [
            await session.call_tool(
                "helm_install", {"release": f"esc{n}", "chart": chart, "namespace": ns, "set_values": values}
            )
            for n, values in enumerate(attempts)
        ]
        upgraded = await session.call_tool(
            "helm_upgrade",
            {"release": "esc9", "chart": chart, "namespace": ns, "install": True, "set_values": attempts[0]},
        )
        fine = await call_ok(session, "helm_install", release="fine", chart=chart, namespace=ns)
    for result in [*refused, upgraded]:
        assert result.is_error
        assert "refused" in text_of(result), text_of(result)
        assert "$ helm" not in text_of(result)
    assert fine.structured_content["exit_code"] == 0
    assert sandbox_cluster.kubectl("get", "configmap", "fine-cm", "-n", ns).returncode == 0
    bindings = sandbox_cluster.kubectl("get", "clusterrolebindings", "-o", "name").stdout
    assert "esc0-admin" not in bindings
    assert "esc9-admin" not in bindings
    assert sandbox_cluster.kubectl("get", "configmaps", "-n", other, "-o", "name").stdout.strip() == ""
