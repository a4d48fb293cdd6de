"""Helm tools against the sandbox (SQL storage driver), with a local chart the test writes."""

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mcp_server.tests.conftest import call_ok, text_of

CANARY = "helm-canary-pw-7Qz"
CHART = {
    "Chart.yaml": "apiVersion: v2\nname: greeter\nversion: 0.1.0\nappVersion: '1.0'\n",
    "values.yaml": "greeting: hello\nauth:\n  password: ''\n",
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    ),
    "templates/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-auth\n"
        "stringData:\n  password: {{ .Values.auth.password | quote }}\n"
    ),
}


@pytest.fixture
def chart(tmp_path):
    for path, text in CHART.items():
        (tmp_path / "greeter" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "greeter" / path).write_text(text)
    return str(tmp_path / "greeter")


def _greeting(cluster, namespace):
    return cluster.get_json("configmap", "rel-config", namespace)["data"]["greeting"]


async def test_it_renders_a_chart_without_installing(mcp, sandbox_cluster, k8s_namespace, chart):
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


async def test_it_manages_a_release_lifecycle(mcp, sandbox_cluster, k8s_namespace, chart):
    ns = k8s_namespace
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


@pytest.fixture
def chart_repo(tmp_path):
    (tmp_path / "index.yaml").write_text("apiVersion: v1\nentries: {}\n")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


async def test_it_adds_a_chart_repository(mcp, sandbox_cluster, chart_repo):
    await call_ok(mcp, "helm_repo_add", name="local-charts", url=chart_repo)
    assert "local-charts" in sandbox_cluster.helm("repo", "list").stdout
