"""The Helm chart (deploy/helm/skyflo): lint, render several value sets with the real helm, apply them with the real
kubectl to the sandbox cluster, and check what an operator and a security reviewer look for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_compose import _read_variables, _sources

REPO_ROOT = Path(__file__).resolve().parent.parent
CHART = REPO_ROOT / "deploy" / "helm" / "skyflo"
HELM = str(REPO_ROOT / ".bin" / "helm")
MINIMAL = {
    "config.databaseUrl": "postgres://skyflo:pw@db.example.com:5432/skyflo",
    "config.redisUrl": "redis://r:6379/0",
}
VALUE_SETS = {
    "default": {},
    "write": {"toolserver.write": "true"},
    "namespaces": {"toolserver.namespaces": "{shop,payments}"},
    "ingress-hpa": {
        "web.ingress.enabled": "true",
        "web.ingress.host": "skyflo.example.com",
        "web.ingress.className": "nginx",
        "web.ingress.tlsSecretName": "skyflo-tls",
        "web.autoscaling.enabled": "true",
        "worker.autoscaling.enabled": "true",
    },
    "existing-secret": {"config.existingSecret": "skyflo-prod", "config.databaseUrl": "", "config.redisUrl": ""},
    "settings": {
        "toolserver.helmRepositories": "{https://charts.example/stable,oci://registry.example/charts}",
        "toolserver.stdioServers.kubernetes": "{kubernetes-mcp-server,--read-only}",
        "config.mcpAllowedNetworks": "{10.0.0.0/8,fd00::/8}",
        "config.dbPoolSize": "12",
        "config.llmApiVersion": "2024-10-21",
        "config.llmReasoningEffort": "low",
        "config.llmExtraHeaders.X-Team": "ops",
        "config.llmPrices.my-model": "{1,3}",
        "web.httpConcurrency": "8",
        "web.wsRecheckSeconds": "3",
        "config.extraEnv[0].name": "OTEL_EXPORTER_OTLP_ENDPOINT",
        "config.extraEnv[0].value": "http://otel-collector.observability:4318",
    },
}
DJANGO = ("sky-skyflo-web", "sky-skyflo-worker", "sky-skyflo-beat", "sky-skyflo-migrate")
READ_VERBS = {"get", "list", "watch"}
RELEASE = "sky"


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HELM, *args], capture_output=True, text=True, timeout=60, check=check)


def set_args(values: dict[str, str]) -> list[str]:
    merged = {**MINIMAL, **values}
    return [arg for key, value in merged.items() for arg in ("--set", f"{key}={value}")]


def render(values: dict[str, str], namespace: str = "skyflo") -> list[dict]:
    out = helm("template", RELEASE, str(CHART), "--namespace", namespace, *set_args(values)).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[dict], kind: str, name: str) -> dict:
    (doc,) = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    return doc


def pod_specs(docs: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d["spec"]["template"] for d in docs if d["kind"] in ("Deployment", "Job")}


def env_of(container: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def rules_touching(rules: list[dict], resource: str) -> list[dict]:
    return [r for r in rules if resource in r["resources"] or "*" in r["resources"]]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {name: render(values) for name, values in VALUE_SETS.items()}


def test_it_passes_helm_lint():
    result = helm("lint", str(CHART), "--strict", *set_args({}), check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_it_renders_every_component(rendered):
    docs = rendered["default"]

    kinds = sorted({d["kind"] for d in docs})
    assert kinds == sorted(
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Job",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Secret",
            "Service",
            "ServiceAccount",
        ]
    )
    names = {d["metadata"]["name"] for d in of_kind(docs, "Deployment")}
    assert names == {"sky-skyflo-web", "sky-skyflo-worker", "sky-skyflo-beat", "sky-skyflo-toolserver"}
    assert {d["metadata"]["name"] for d in of_kind(docs, "Service")} == {"sky-skyflo-web", "sky-skyflo-toolserver"}


def test_it_refuses_values_outside_the_schema():
    bad_type = helm("template", "x", str(CHART), *set_args({"toolserver.write": "maybe"}), check=False)
    bad_url = helm("template", "x", str(CHART), *set_args({"config.databaseUrl": "mysql://db/x"}), check=False)
    missing = helm("template", "x", str(CHART), "--set", "config.redisUrl=redis://r:6379/0", check=False)

    assert bad_type.returncode != 0
    assert "toolserver.write" in bad_type.stderr
    assert bad_url.returncode != 0
    assert "config.databaseUrl" in bad_url.stderr
    assert missing.returncode != 0
    assert "config.databaseUrl is required" in missing.stderr


def test_the_default_cluster_role_only_reads_and_never_secrets(rendered):
    (role,) = of_kind(rendered["default"], "ClusterRole")

    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    assert verbs == READ_VERBS
    assert rules_touching(role["rules"], "secrets") == []
    assert all("*" not in rule["apiGroups"] and "*" not in rule["verbs"] for rule in role["rules"])
    assert {"get", "list"} <= {v for r in rules_touching(role["rules"], "deployments") for v in r["verbs"]}
    assert "get" in {v for r in rules_touching(role["rules"], "pods/log") for v in r["verbs"]}
    (binding,) = of_kind(rendered["default"], "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sky-skyflo-toolserver", "namespace": "skyflo"}]


def test_write_mode_adds_write_verbs_but_still_no_secret_reads_nor_rbac_writes(rendered):
    (role,) = of_kind(rendered["write"], "ClusterRole")

    deployment_verbs = {v for r in rules_touching(role["rules"], "deployments") for v in r["verbs"]}
    assert {"patch", "update", "create", "delete"} <= deployment_verbs
    secret_verbs = {v for r in rules_touching(role["rules"], "secrets") for v in r["verbs"]}
    assert not secret_verbs & READ_VERBS
    rbac_verbs = {v for r in role["rules"] if "rbac.authorization.k8s.io" in r["apiGroups"] for v in r["verbs"]}
    assert rbac_verbs == READ_VERBS
    toolserver = pod_specs(rendered["write"])["sky-skyflo-toolserver"]["spec"]["containers"][0]
    assert env_of(toolserver)["MCP_READ_ONLY"]["value"] == "0"
    default = pod_specs(rendered["default"])["sky-skyflo-toolserver"]["spec"]["containers"][0]
    assert env_of(default)["MCP_READ_ONLY"]["value"] == "1"


def test_secrets_are_readable_only_with_the_explicit_value():
    (role,) = of_kind(render({"toolserver.readSecrets": "true"}), "ClusterRole")

    secret_verbs = {v for r in rules_touching(role["rules"], "secrets") for v in r["verbs"]}
    assert secret_verbs == READ_VERBS


def test_namespaces_give_roles_in_those_namespaces_and_no_cluster_role(rendered):
    docs = rendered["namespaces"]

    assert of_kind(docs, "ClusterRole") == []
    assert of_kind(docs, "ClusterRoleBinding") == []
    assert sorted(r["metadata"]["namespace"] for r in of_kind(docs, "Role")) == ["payments", "shop"]
    assert sorted(b["metadata"]["namespace"] for b in of_kind(docs, "RoleBinding")) == ["payments", "shop"]
    for role in of_kind(docs, "Role"):
        assert {v for rule in role["rules"] for v in rule["verbs"]} == READ_VERBS
        assert not any({"nodes", "namespaces"} & set(rule["resources"]) for rule in role["rules"])
    toolserver = pod_specs(docs)["sky-skyflo-toolserver"]["spec"]["containers"][0]
    assert env_of(toolserver)["MCP_ALLOWED_NAMESPACES"]["value"] == "shop,payments"


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_container_runs_restricted(rendered, value_set):
    for name, template in pod_specs(rendered[value_set]).items():
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes["tmp"], name
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name


def test_only_the_tool_server_gets_a_service_account_token(rendered):
    specs = pod_specs(rendered["default"])

    assert specs["sky-skyflo-toolserver"]["spec"]["serviceAccountName"] == "sky-skyflo-toolserver"
    for name, template in specs.items():
        if name != "sky-skyflo-toolserver":
            assert template["spec"]["automountServiceAccountToken"] is False, name


def test_web_and_tool_server_probe_healthz_and_readyz(rendered):
    specs = pod_specs(rendered["default"])

    for name in ("sky-skyflo-web", "sky-skyflo-toolserver"):
        container = specs[name]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name


def test_there_is_exactly_one_beat_replaced_not_rolled(rendered):
    for docs in rendered.values():
        beat = named(docs, "Deployment", "sky-skyflo-beat")
        assert beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}
        assert of_kind(docs, "HorizontalPodAutoscaler") == [] or all(
            h["spec"]["scaleTargetRef"]["name"] != "sky-skyflo-beat" for h in of_kind(docs, "HorizontalPodAutoscaler")
        )


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(rendered):
    (job,) = of_kind(rendered["default"], "Job")

    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python",
        "manage.py",
        "migrate",
        "--noinput",
    ]
    (secret,) = of_kind(rendered["default"], "Secret")
    # The Secret must exist before the Job reads it: an earlier hook weight.
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )


def test_the_tool_server_network_policy_admits_only_web_and_worker(rendered):
    docs = rendered["default"]
    (policy,) = of_kind(docs, "NetworkPolicy")
    labels = {name: t["metadata"]["labels"] for name, t in pod_specs(docs).items()}

    def selects(selector: dict, pod_labels: dict) -> bool:
        return all(pod_labels.get(k) == v for k, v in selector["matchLabels"].items())

    assert selects(policy["spec"]["podSelector"], labels["sky-skyflo-toolserver"])
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    admitted = {name for name, pod in labels.items() for peer in rule["from"] if selects(peer["podSelector"], pod)}
    assert admitted == {"sky-skyflo-web", "sky-skyflo-worker"}
    assert all(set(peer) == {"podSelector"} for peer in rule["from"])  # no namespaceSelector / ipBlock widening it


def test_prometheus_may_reach_only_the_tool_servers_metrics_port():
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    docs = render(
        {"networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name": "monitoring"}
    )

    (policy,) = of_kind(docs, "NetworkPolicy")
    mcp_rule, metrics_rule = policy["spec"]["ingress"]
    assert mcp_rule["ports"] == [{"port": "mcp", "protocol": "TCP"}]
    assert all(set(peer) == {"podSelector"} for peer in mcp_rule["from"])
    assert metrics_rule == {"from": [monitoring], "ports": [{"port": "metrics", "protocol": "TCP"}]}
    container = pod_specs(docs)["sky-skyflo-toolserver"]["spec"]["containers"][0]
    assert container["command"][-2:] == ["--metrics-port", "9100"]
    assert {"name": "metrics", "containerPort": 9100} in container["ports"]


def test_acting_as_the_person_adds_only_impersonation_of_users_and_groups_and_the_key():
    key = "k" * 40
    docs = render({"toolserver.impersonate": "true", "config.impersonationKey": key, "toolserver.namespaces": "{shop}"})
    refused = helm("template", RELEASE, str(CHART), *set_args({"toolserver.impersonate": "true"}), check=False)

    (role,) = of_kind(docs, "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}]
    (binding,) = of_kind(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sky-skyflo-toolserver", "namespace": "skyflo"}]
    toolserver = env_of(container(docs, "sky-skyflo-toolserver"))
    assert toolserver["MCP_IMPERSONATION_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "MCP_IMPERSONATION_KEY"
    (secret,) = of_kind(docs, "Secret")
    assert "MCP_IMPERSONATION_KEY" in secret["data"]
    assert "MCP_IMPERSONATION_KEY" not in env_of(container(docs, "sky-skyflo-worker"))
    assert refused.returncode != 0
    assert "toolserver.impersonate needs config.impersonationKey" in refused.stderr


def test_configuration_comes_from_the_generated_secret(rendered):
    (secret,) = of_kind(rendered["default"], "Secret")

    assert set(secret["data"]) == {
        "DATABASE_URL",
        "REDIS_URL",
        "DJANGO_SECRET_KEY",
        "MCP_SERVER_TOKEN",
        "SKYFLO_METRICS_TOKEN",
    }
    web = pod_specs(rendered["default"])["sky-skyflo-web"]["spec"]["containers"][0]
    assert env_of(web)["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    assert env_of(web)["MCP_SERVER_URL"]["value"] == "http://sky-skyflo-toolserver:8081/mcp"
    assert "postgres://" not in json.dumps([d for d in rendered["default"] if d["kind"] != "Secret"])


def test_an_existing_secret_is_used_and_none_is_generated(rendered):
    docs = rendered["existing-secret"]

    assert of_kind(docs, "Secret") == []
    refs = {
        entry["valueFrom"]["secretKeyRef"]["name"]
        for template in pod_specs(docs).values()
        for container in template["spec"]["containers"]
        for entry in container["env"]
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    assert refs == {"skyflo-prod"}


def test_ingress_and_autoscaling(rendered):
    docs = rendered["ingress-hpa"]

    (ingress,) = of_kind(docs, "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == "skyflo.example.com"
    assert ingress["spec"]["tls"] == [{"hosts": ["skyflo.example.com"], "secretName": "skyflo-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "sky-skyflo-web"
    targets = sorted(h["spec"]["scaleTargetRef"]["name"] for h in of_kind(docs, "HorizontalPodAutoscaler"))
    assert targets == ["sky-skyflo-web", "sky-skyflo-worker"]
    assert "replicas" not in named(docs, "Deployment", "sky-skyflo-web")["spec"]  # the HPA owns it
    web = pod_specs(docs)["sky-skyflo-web"]["spec"]["containers"][0]
    assert env_of(web)["DJANGO_ALLOWED_HOSTS"]["value"].split(",")[0] == "skyflo.example.com"
    (pdb,) = of_kind(docs, "PodDisruptionBudget")
    assert (
        pdb["spec"]["selector"]["matchLabels"]
        == named(docs, "Deployment", "sky-skyflo-web")["spec"]["selector"]["matchLabels"]
    )


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_the_rendered_manifests_apply_to_a_cluster(sandbox_cluster, value_set):
    namespace = sandbox_cluster.new_namespace(f"chart-{value_set}")
    extra = [sandbox_cluster.new_namespace(ns) for ns in ("shop", "payments")] if value_set == "namespaces" else []
    values = dict(VALUE_SETS[value_set])
    if extra:
        values["toolserver.namespaces"] = "{" + ",".join(extra) + "}"
    manifests = helm("template", RELEASE, str(CHART), "--namespace", namespace, *set_args(values)).stdout
    try:
        if value_set == "existing-secret":
            secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "skyflo-prod"}}
            secret["stringData"] = dict.fromkeys(["DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY"], "x")
            sandbox_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(secret))
        applied = sandbox_cluster.kubectl("apply", "-f", "-", input=manifests)

        assert "deployment.apps/sky-skyflo-web created" in applied.stdout
        for component in ("web", "worker", "beat", "toolserver"):
            sandbox_cluster.kubectl(
                "rollout", "status", f"deployment/sky-skyflo-{component}", "-n", namespace, "--timeout=60s"
            )
        job = sandbox_cluster.kubectl(
            "wait", "--for=condition=complete", "job/sky-skyflo-migrate", "-n", namespace, "--timeout=60s"
        )
        assert "condition met" in job.stdout
        assert sandbox_cluster.get_json("pdb", "sky-skyflo-web", namespace)["spec"]["minAvailable"] == 1
    finally:
        for name in (namespace, *extra):
            sandbox_cluster.delete_namespace(name)
        sandbox_cluster.kubectl(
            "delete", "clusterrole,clusterrolebinding", "-l", "app.kubernetes.io/instance=sky", check=False
        )


def container(docs: list[dict], name: str) -> dict:
    return pod_specs(docs)[name]["spec"]["containers"][0]


def plain_env(docs: list[dict], name: str) -> dict[str, str]:
    return {k: e["value"] for k, e in env_of(container(docs, name)).items() if "value" in e}


def test_the_new_settings_reach_the_containers_that_read_them(rendered):
    docs, default = rendered["settings"], rendered["default"]

    toolserver = plain_env(docs, "sky-skyflo-toolserver")
    assert toolserver["MCP_HELM_REPOSITORIES"] == "https://charts.example/stable,oci://registry.example/charts"
    assert plain_env(default, "sky-skyflo-toolserver")["MCP_HELM_REPOSITORIES"] == ""  # every chart refused
    assert json.loads(toolserver["MCP_STDIO_SERVERS"]) == {"kubernetes": ["kubernetes-mcp-server", "--read-only"]}
    assert plain_env(default, "sky-skyflo-toolserver")["MCP_STDIO_SERVERS"] == ""
    for name in DJANGO:
        env = plain_env(docs, name)
        assert env["SKYFLO_MCP_ALLOWED_NETWORKS"] == "10.0.0.0/8,fd00::/8", name
        assert env["SKYFLO_DB_POOL_SIZE"] == "12", name
        assert env["LLM_API_VERSION"] == "2024-10-21", name
        assert env["LLM_REASONING_EFFORT"] == "low", name
        assert json.loads(env["LLM_EXTRA_HEADERS"]) == {"X-Team": "ops"}, name
        assert json.loads(env["SKYFLO_LLM_PRICES"]) == {"my-model": [1, 3]}, name
        assert plain_env(default, name)["SKYFLO_DB_POOL_SIZE"] == "20", name
        assert "MCP_HELM_REPOSITORIES" not in env, name
    web = plain_env(docs, "sky-skyflo-web")
    assert (web["SKYFLO_HTTP_CONCURRENCY"], web["SKYFLO_WS_RECHECK_S"]) == ("8", "3")
    assert plain_env(default, "sky-skyflo-web")["SKYFLO_HTTP_CONCURRENCY"] == ""  # the code's pool size - 4
    assert "MCP_HELM_REPOSITORIES" not in env_of(container(docs, "sky-skyflo-worker"))
    for name in (*DJANGO, "sky-skyflo-toolserver"):  # extraEnv reaches every container, the tool server's too
        assert plain_env(docs, name)["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318", name


def test_it_refuses_bad_new_settings():
    for key, value in (
        ("toolserver.helmRepositories", "{/srv/charts}"),
        ("config.mcpAllowedNetworks", "{everything}"),
        ("config.dbPoolSize", "1"),
        ("config.llmReasoningEffort", "max"),
        ("toolserver.stdioServers.Bad_Name", "{x}"),
    ):
        result = helm("template", "x", str(CHART), *set_args({key: value}), check=False)
        assert result.returncode != 0, key
        assert key in result.stderr or key.removesuffix(".Bad_Name") in result.stderr, key  # a bad name: its map


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_variable_the_chart_sets_is_read_by_the_code(rendered, value_set):
    django_reads = _read_variables(_sources("skyflo/*.py"))
    toolserver_reads = _read_variables(_sources("mcp_server/*.py"))
    process_env = {"HOME"}  # read by kubectl/helm and Python itself
    process_env |= {
        v for k, v in VALUE_SETS[value_set].items() if k.startswith("config.extraEnv[") and k.endswith(".name")
    }

    docs = rendered[value_set]
    for name in DJANGO:
        unknown = set(env_of(container(docs, name))) - django_reads - process_env
        assert unknown == set(), f"{name} sets variables nothing reads: {unknown}"
    unknown = set(env_of(container(docs, "sky-skyflo-toolserver"))) - toolserver_reads - process_env - {"HELM_DRIVER"}
    assert unknown == set(), f"the tool server gets variables nothing reads: {unknown}"


def _tool_server_address_ok(env: dict[str, str], url: str) -> bool:
    """Whether Skyflo, started with a container's rendered environment, lets a cluster connection use `url`."""
    code = (
        "import django; django.setup()\n"
        "from django.core.exceptions import ValidationError\n"
        "from orgs.services.tool_server_address import tool_server_url_check\n"
        "try:\n    tool_server_url_check(sys.argv[1], resolve_failure_ok=False)\n"
        "except ValidationError:\n    print('refused')\nelse:\n    print('allowed')\n"
    )
    env = {
        **env,
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "skyflo.settings",
        "DJANGO_SECRET_KEY": "k" * 50,
        "SKYFLO_VAR_DIR": str(Path(os.environ.get("TMPDIR", "/tmp")) / "skyflo-chart-test"),
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    out = subprocess.run(
        [sys.executable, "-c", "import sys\n" + code, url], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip() == "allowed"


@pytest.mark.parametrize("name", ["sky-skyflo-web", "sky-skyflo-worker"])
def test_a_default_install_lets_web_and_worker_use_the_in_cluster_tool_server(rendered, name):
    default, widened = plain_env(rendered["default"], name), plain_env(rendered["settings"], name)
    (service,) = [d for d in of_kind(rendered["default"], "Service") if d["metadata"]["name"].endswith("toolserver")]
    mcp_port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "mcp")

    assert default["MCP_SERVER_URL"] == f"http://{service['metadata']['name']}:{mcp_port}/mcp"
    assert _tool_server_address_ok(default, default["MCP_SERVER_URL"])  # though it resolves to a private address
    assert not _tool_server_address_ok(default, "http://10.1.2.3:8081/mcp")  # other private addresses are not
    assert _tool_server_address_ok(widened, "http://10.1.2.3:8081/mcp")  # unless config.mcpAllowedNetworks says


def test_helm_install_runs_the_hooks_and_upgrade_keeps_the_generated_secret(sandbox_cluster):
    namespace = sandbox_cluster.new_namespace("chart-install")
    release = ["skyflo", str(CHART), "--namespace", namespace, "--wait", "--timeout", "90s"]
    try:
        installed = sandbox_cluster.helm("install", *release, *set_args({}))
        assert "STATUS: deployed" in installed.stdout
        assert "only read the whole cluster, Secrets excluded" in installed.stdout
        assert "first organisation gets this tool server (http://skyflo-toolserver:8081/mcp)" in installed.stdout
        assert "helm tools refuse every chart until toolserver.helmRepositories" in installed.stdout
        # (2 web + 1 worker + 1 beat) x 20 + 10 for the worker's checkpoints; one pool more for the migrations Job
        assert "PostgreSQL connections: at most 90 " in installed.stdout
        assert "110 while the migrations Job runs" in installed.stdout
        key = sandbox_cluster.get_json("secret", "skyflo-config", namespace)["data"]["DJANGO_SECRET_KEY"]

        sandbox_cluster.helm("upgrade", *release, "--reuse-values", "--set", "toolserver.write=true")

        assert sandbox_cluster.get_json("secret", "skyflo-config", namespace)["data"]["DJANGO_SECRET_KEY"] == key
        deployments = sandbox_cluster.kubectl("get", "deployments", "-n", namespace, "-o", "name").stdout.split()
        assert sorted(deployments) == [
            "deployment.apps/skyflo-beat",
            "deployment.apps/skyflo-toolserver",
            "deployment.apps/skyflo-web",
            "deployment.apps/skyflo-worker",
        ]
        role = sandbox_cluster.get_json("clusterrole", f"{namespace}-skyflo-toolserver")
        assert "patch" in {v for rule in role["rules"] for v in rule["verbs"]}
    finally:
        sandbox_cluster.helm("uninstall", "skyflo", "--namespace", namespace, check=False)
        sandbox_cluster.delete_namespace(namespace)
