"""Status errors kubectl users see: NotFound, AlreadyExists, Conflict on a stale resourceVersion, Invalid."""

import json

from sandbox.tests.manifests import as_input, configmap, deployment


def test_it_reports_not_found(sandbox_cluster, k8s_namespace):
    out = sandbox_cluster.kubectl("get", "deployment", "nope", "-n", k8s_namespace, check=False)

    assert out.returncode == 1
    assert out.stderr.strip() == 'Error from server (NotFound): deployments.apps "nope" not found'


def test_it_refuses_to_create_an_existing_object(sandbox_cluster, k8s_namespace):
    manifest = as_input(configmap(k8s_namespace, "settings", {"a": "1"}))
    sandbox_cluster.kubectl("create", "-f", "-", input=manifest)

    out = sandbox_cluster.kubectl("create", "-f", "-", input=manifest, check=False)

    assert out.returncode == 1
    assert 'configmaps "settings" already exists' in out.stderr


def test_it_rejects_an_update_carrying_a_stale_resource_version(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(configmap(k8s_namespace, "settings", {"a": "1"})))
    stale = sandbox_cluster.get_json("configmap", "settings", k8s_namespace)
    sandbox_cluster.kubectl("patch", "cm", "settings", "-n", k8s_namespace, "--type=merge", "-p", '{"data":{"a":"2"}}')
    stale["data"] = {"a": "3"}

    out = sandbox_cluster.kubectl("replace", "-f", "-", input=json.dumps(stale), check=False)

    assert out.returncode == 1
    assert "Conflict" in out.stderr
    assert 'Operation cannot be fulfilled on configmaps "settings": the object has been modified' in out.stderr
    assert sandbox_cluster.get_json("configmap", "settings", k8s_namespace)["data"] == {"a": "2"}


def test_it_accepts_an_update_carrying_the_current_resource_version(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(configmap(k8s_namespace, "settings", {"a": "1"})))
    current = sandbox_cluster.get_json("configmap", "settings", k8s_namespace)
    current["data"] = {"a": "3"}

    out = sandbox_cluster.kubectl("replace", "-f", "-", input=json.dumps(current))

    assert out.stdout.strip() == "configmap/settings replaced"
    updated = sandbox_cluster.get_json("configmap", "settings", k8s_namespace)
    assert updated["data"] == {"a": "3"}
    assert int(updated["metadata"]["resourceVersion"]) > int(current["metadata"]["resourceVersion"])


def test_it_rejects_an_invalid_name(sandbox_cluster, k8s_namespace):
    out = sandbox_cluster.kubectl(
        "apply", "-f", "-", input=as_input(configmap(k8s_namespace, "Bad_Name", {"a": "1"})), check=False
    )

    assert out.returncode == 1
    assert 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"' in out.stderr


def test_it_rejects_a_selector_that_does_not_match_the_template(sandbox_cluster, k8s_namespace):
    manifest = deployment(k8s_namespace, "web")
    manifest["spec"]["selector"] = {"matchLabels": {"app": "other"}}

    out = sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(manifest), check=False)

    assert out.returncode == 1
    assert "`selector` does not match template `labels`" in out.stderr


def test_it_explains_that_exec_is_not_supported(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(k8s_namespace, "web", replicas=1)))
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    out = sandbox_cluster.kubectl("exec", "deploy/web", "-n", k8s_namespace, "--", "ls", check=False)

    assert out.returncode == 1
    assert "the sandbox cluster has no container runtime: pods/exec" in out.stderr
