"""Pods fail the way their spec says: missing env or a wrong command crash-loop, probes on the wrong port or path
fail; fixing the spec (not the annotation) brings the pods up."""

import json

from sandbox.tests.manifests import as_input, configmap, deployment

A = "sandbox.skyflo.dev/"


def _app(namespace: str, name: str, annotations: dict, **container) -> dict:
    manifest = deployment(namespace, name, "ghcr.io/skyflo-demo/api:1.0.0", replicas=1, annotations=annotations)
    spec = manifest["spec"]["template"]["spec"]["containers"][0]
    spec["ports"] = [{"containerPort": 8080, "name": "http"}]
    spec.update(container)
    return manifest


def _wait(sandbox_cluster, namespace: str, app: str, jsonpath: str, value: str) -> None:
    sandbox_cluster.kubectl(
        "wait", f"--for=jsonpath={{{jsonpath}}}={value}", "pod", "-l", f"app={app}", "-n", namespace, "--timeout=20s"
    )


def _events(sandbox_cluster, namespace: str, reason: str) -> str:
    return sandbox_cluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", f"reason={reason}", "-o", "jsonpath={.items[*].message}"
    ).stdout


def test_it_crashloops_while_a_required_variable_is_missing_and_runs_once_set(sandbox_cluster, k8s_namespace):
    ns = k8s_namespace
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(_app(ns, "api", {A + "requires-env": "DATABASE_URL"})))
    _wait(sandbox_cluster, ns, "api", ".status.containerStatuses[0].state.waiting.reason", "CrashLoopBackOff")
    logs = sandbox_cluster.kubectl("logs", "deploy/api", "-n", ns).stdout
    assert "FATAL: required environment variable DATABASE_URL is not set" in logs

    db = configmap(ns, "db", {"DATABASE_URL": "postgres://db:5432/app"})
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(db))
    sandbox_cluster.kubectl("set", "env", "deploy/api", "-n", ns, "--from=configmap/db")
    sandbox_cluster.kubectl("rollout", "status", "deploy/api", "-n", ns, "--timeout=30s")

    ready = sandbox_cluster.kubectl("get", "deploy", "api", "-n", ns, "-o", "jsonpath={.status.readyReplicas}")
    assert ready.stdout == "1"


def test_it_fails_to_start_a_command_the_image_does_not_have(sandbox_cluster, k8s_namespace):
    ns = k8s_namespace
    app = _app(ns, "api", {A + "entrypoint": "/app/server"}, command=["/app/serve", "--port", "8080"])
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(app))
    _wait(sandbox_cluster, ns, "api", ".status.containerStatuses[0].lastState.terminated.reason", "StartError")
    assert (
        "exec /app/serve: no such file or directory" in sandbox_cluster.kubectl("logs", "deploy/api", "-n", ns).stdout
    )

    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/command/0", "value": "/app/server"}]
    sandbox_cluster.kubectl("patch", "deploy/api", "-n", ns, "--type=json", "-p", json.dumps(patch))
    sandbox_cluster.kubectl("rollout", "status", "deploy/api", "-n", ns, "--timeout=30s")


def test_it_keeps_a_pod_unready_while_its_readiness_probe_misses_the_port(sandbox_cluster, k8s_namespace):
    ns = k8s_namespace
    probe = {"httpGet": {"path": "/healthz", "port": 8081}, "periodSeconds": 5}
    sandbox_cluster.kubectl(
        "apply", "-f", "-", input=as_input(_app(ns, "web", {A + "listens-on": "8080"}, readinessProbe=probe))
    )
    _wait(sandbox_cluster, ns, "web", ".status.phase", "Running")
    _wait(sandbox_cluster, ns, "web", ".status.containerStatuses[0].ready", "false")
    assert "connect: connection refused" in _events(sandbox_cluster, ns, "Unhealthy")
    assert sandbox_cluster.kubectl("get", "pods", "-n", ns, "--no-headers").stdout.split()[1] == "0/1"

    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/readinessProbe/httpGet/port", "value": "http"}]
    sandbox_cluster.kubectl("patch", "deploy/web", "-n", ns, "--type=json", "-p", json.dumps(patch))
    sandbox_cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=30s")


def test_it_restarts_a_container_whose_liveness_probe_gets_404(sandbox_cluster, k8s_namespace):
    ns = k8s_namespace
    probe = {"httpGet": {"path": "/health-check", "port": 8080}}
    sandbox_cluster.kubectl(
        "apply", "-f", "-", input=as_input(_app(ns, "web", {A + "listens-on": "8080"}, livenessProbe=probe))
    )
    _wait(sandbox_cluster, ns, "web", ".status.containerStatuses[0].lastState.terminated.exitCode", "137")

    assert "Liveness probe failed: HTTP probe failed with statuscode: 404" in _events(sandbox_cluster, ns, "Unhealthy")
    assert "failed liveness probe, will be restarted" in _events(sandbox_cluster, ns, "Killing")


def test_it_stores_and_lists_rbac_and_network_policies(sandbox_cluster, k8s_namespace):
    ns = k8s_namespace
    sandbox_cluster.kubectl("create", "serviceaccount", "ci", "-n", ns)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "pod-reader", "namespace": ns},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "ci-reads-pods", "namespace": ns},
        "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": ns}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
    }
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "db-from-api", "namespace": ns},
        "spec": {
            "podSelector": {"matchLabels": {"app": "db"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 5432}]}],
        },
    }
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(role, binding, policy))

    names = sandbox_cluster.kubectl("get", "role,rolebinding,networkpolicy", "-n", ns, "-o", "name").stdout.split()
    assert names == [
        "role.rbac.authorization.k8s.io/pod-reader",
        "rolebinding.rbac.authorization.k8s.io/ci-reads-pods",
        "networkpolicy.networking.k8s.io/db-from-api",
    ]
    stored = sandbox_cluster.get_json("networkpolicy", "db-from-api", ns)
    assert stored["spec"]["ingress"][0]["ports"] == [{"port": 5432}]
    assert sandbox_cluster.get_json("rolebinding", "ci-reads-pods", ns)["roleRef"]["name"] == "pod-reader"
