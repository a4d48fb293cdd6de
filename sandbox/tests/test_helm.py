"""helm v3 (SQL storage driver) installs, upgrades, rolls back and uninstalls a chart on the sandbox."""

import subprocess
import textwrap

import pytest

CHART = {
    "Chart.yaml": """
        apiVersion: v2
        name: tiny
        version: 0.1.0
        appVersion: "1.27"
    """,
    "values.yaml": """
        replicaCount: 2
        image:
          repository: nginx
          tag: "1.27"
    """,
    "templates/deployment.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}-tiny
          labels: {app: {{ .Release.Name }}-tiny}
        spec:
          replicas: {{ .Values.replicaCount }}
          selector:
            matchLabels: {app: {{ .Release.Name }}-tiny}
          template:
            metadata:
              labels: {app: {{ .Release.Name }}-tiny}
            spec:
              containers:
                - name: web
                  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
                  ports: [{containerPort: 80, name: http}]
    """,
    "templates/service.yaml": """
        apiVersion: v1
        kind: Service
        metadata:
          name: {{ .Release.Name }}-tiny
        spec:
          selector: {app: {{ .Release.Name }}-tiny}
          ports: [{port: 80, targetPort: http}]
    """,
}


@pytest.fixture
def chart(tmp_path):
    for name, body in CHART.items():
        path = tmp_path / "tiny" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body).lstrip())
    return str(tmp_path / "tiny")


def _image(sandbox_cluster, namespace):
    return sandbox_cluster.kubectl(
        "get", "deploy", "shop-tiny", "-n", namespace, "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    ).stdout


def test_it_installs_upgrades_rolls_back_and_uninstalls(sandbox_cluster, k8s_namespace, chart):
    install = sandbox_cluster.helm("install", "shop", chart, "-n", k8s_namespace, "--wait", "--timeout=60s")
    ready = sandbox_cluster.kubectl("get", "deploy", "shop-tiny", "-n", k8s_namespace, "--no-headers").stdout.split()
    endpoints = sandbox_cluster.get_json("endpoints", "shop-tiny", k8s_namespace)

    assert "STATUS: deployed" in install.stdout
    assert ready[:2] == ["shop-tiny", "2/2"]
    assert sorted(p["port"] for p in endpoints["subsets"][0]["ports"]) == [80]

    sandbox_cluster.helm("upgrade", "shop", chart, "-n", k8s_namespace, "--set", "image.tag=1.28", "--wait")
    assert _image(sandbox_cluster, k8s_namespace) == "nginx:1.28"
    history = sandbox_cluster.helm("history", "shop", "-n", k8s_namespace).stdout.splitlines()
    assert [line.split()[0] for line in history[1:]] == ["1", "2"]
    assert "superseded" in history[1]
    assert "deployed" in history[2]

    rollback = sandbox_cluster.helm("rollback", "shop", "1", "-n", k8s_namespace)
    assert "Rollback was a success!" in rollback.stdout
    assert _image(sandbox_cluster, k8s_namespace) == "nginx:1.27"
    listed = sandbox_cluster.helm("list", "-n", k8s_namespace, "--short").stdout.split()
    assert listed == ["shop"]

    uninstall = sandbox_cluster.helm("uninstall", "shop", "-n", k8s_namespace)
    assert uninstall.stdout.strip() == 'release "shop" uninstalled'
    left = sandbox_cluster.kubectl("get", "deploy,svc,pods", "-n", k8s_namespace, "-o", "name")
    assert left.stdout == ""
    assert sandbox_cluster.helm("list", "-n", k8s_namespace, "--short").stdout == ""


def test_it_renders_a_template_without_installing(sandbox_cluster, k8s_namespace, chart):
    out = sandbox_cluster.helm("template", "preview", chart, "-n", k8s_namespace, "--set", "replicaCount=5")

    assert "name: preview-tiny" in out.stdout
    assert "replicas: 5" in out.stdout
    assert sandbox_cluster.kubectl("get", "deploy", "-n", k8s_namespace, "-o", "name").stdout == ""


def test_it_stores_releases_in_secrets_with_the_default_driver(sandbox_cluster, k8s_namespace, chart):
    env = {k: v for k, v in sandbox_cluster.env.items() if not k.startswith("HELM_DRIVER")}
    helm = [sandbox_cluster.env["PATH"].split(":")[0] + "/helm"]

    install = subprocess.run(
        [*helm, "install", "plain", chart, "-n", k8s_namespace], env=env, capture_output=True, text=True, check=False
    )
    listed = subprocess.run(
        [*helm, "list", "-n", k8s_namespace, "--short"], env=env, capture_output=True, text=True, check=False
    )

    assert install.returncode == 0, install.stderr
    assert listed.stdout.split() == ["plain"]
    secrets = sandbox_cluster.kubectl("get", "secrets", "-n", k8s_namespace, "-l", "owner=helm", "-o", "name")
    assert secrets.stdout.split() == ["secret/sh.helm.release.v1.plain.v1"]
