"""kubectl apply / get / describe / diff / delete against the sandbox."""

import json

from sandbox.tests.manifests import as_input, configmap, deployment, service


def test_it_applies_and_reports_unchanged_on_reapply(sandbox_cluster, k8s_namespace):
    manifest = as_input(deployment(k8s_namespace, "web"), service(k8s_namespace, "web"))

    first = sandbox_cluster.kubectl("apply", "-f", "-", input=manifest)
    second = sandbox_cluster.kubectl("apply", "-f", "-", input=manifest)

    assert first.stdout.splitlines() == ["deployment.apps/web created", "service/web created"]
    assert second.stdout.splitlines() == ["deployment.apps/web unchanged", "service/web unchanged"]
    live = sandbox_cluster.get_json("deployment", "web", k8s_namespace)
    assert live["metadata"]["uid"]
    assert live["metadata"]["generation"] == 1
    assert live["metadata"]["creationTimestamp"].endswith("Z")
    assert "kubectl.kubernetes.io/last-applied-configuration" in live["metadata"]["annotations"]


def test_it_serves_get_as_json_and_jsonpath(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(configmap(k8s_namespace, "settings", {"mode": "fast"})))

    as_json = json.loads(
        sandbox_cluster.kubectl("get", "configmap", "settings", "-n", k8s_namespace, "-o", "json").stdout
    )
    mode = sandbox_cluster.kubectl("get", "cm", "settings", "-n", k8s_namespace, "-o", "jsonpath={.data.mode}")

    assert as_json["kind"] == "ConfigMap"
    assert as_json["data"] == {"mode": "fast"}
    assert mode.stdout == "fast"


def test_it_prints_familiar_table_columns(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl(
        "apply", "-f", "-", input=as_input(deployment(k8s_namespace, "web"), service(k8s_namespace, "web"))
    )
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    pods = sandbox_cluster.kubectl("get", "pods", "-n", k8s_namespace).stdout.splitlines()
    deployments = sandbox_cluster.kubectl("get", "deploy", "-n", k8s_namespace).stdout.splitlines()
    services = sandbox_cluster.kubectl("get", "svc", "-n", k8s_namespace).stdout.splitlines()

    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(pods) == 3
    assert all(line.split()[1:4] == ["1/1", "Running", "0"] for line in pods[1:])
    assert deployments[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deployments[1].split()[:4] == ["web", "2/2", "2", "2"]
    assert services[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert services[1].split()[:2] == ["web", "ClusterIP"]
    assert services[1].split()[4] == "80/TCP"


def test_it_lists_workloads_with_get_all(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(k8s_namespace, "web", replicas=1)))
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    out = sandbox_cluster.kubectl("get", "all", "-n", k8s_namespace, "-o", "name").stdout.splitlines()

    assert "deployment.apps/web" in out
    assert any(line.startswith("replicaset.apps/web-") for line in out)
    assert any(line.startswith("pod/web-") for line in out)


def test_it_describes_a_deployment_with_events(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(k8s_namespace, "web")))
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    out = sandbox_cluster.kubectl("describe", "deployment", "web", "-n", k8s_namespace).stdout

    assert "Name:                   web" in out
    assert "Replicas:               2 desired | 2 updated | 2 total | 2 available | 0 unavailable" in out
    assert "Image:         nginx:1.27" in out
    assert "ScalingReplicaSet" in out


def test_it_diffs_a_changed_manifest_with_exit_code_one(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(k8s_namespace, "web")))

    same = sandbox_cluster.kubectl("diff", "-f", "-", input=as_input(deployment(k8s_namespace, "web")), check=False)
    changed = sandbox_cluster.kubectl(
        "diff", "-f", "-", input=as_input(deployment(k8s_namespace, "web", image="nginx:1.28")), check=False
    )

    assert (same.returncode, same.stdout) == (0, "")
    assert changed.returncode == 1, changed.stderr
    assert "-      - image: nginx:1.27" in changed.stdout
    assert "+      - image: nginx:1.28" in changed.stdout
    live = sandbox_cluster.get_json("deployment", "web", k8s_namespace)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_it_honours_server_side_dry_run(sandbox_cluster, k8s_namespace):
    out = sandbox_cluster.kubectl(
        "apply", "--dry-run=server", "-f", "-", input=as_input(configmap(k8s_namespace, "ghost", {"a": "1"}))
    )

    assert out.stdout.strip() == "configmap/ghost created (server dry run)"
    missing = sandbox_cluster.kubectl("get", "cm", "ghost", "-n", k8s_namespace, check=False)
    assert missing.returncode == 1
    assert 'configmaps "ghost" not found' in missing.stderr


def test_it_deletes_a_deployment_and_its_pods(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(k8s_namespace, "web")))
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    out = sandbox_cluster.kubectl("delete", "deployment", "web", "-n", k8s_namespace)
    sandbox_cluster.kubectl("wait", "--for=delete", "pod", "-l", "app=web", "-n", k8s_namespace, "--timeout=10s")

    assert out.stdout.strip() == 'deployment.apps "web" deleted'
    left = sandbox_cluster.kubectl("get", "deploy,rs,pods", "-n", k8s_namespace, "-o", "name")
    assert left.stdout == ""


def test_it_orphans_dependents_when_asked(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(k8s_namespace, "web", replicas=1)))
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    sandbox_cluster.kubectl("delete", "deployment", "web", "-n", k8s_namespace, "--cascade=orphan")

    left = sandbox_cluster.kubectl("get", "deploy,rs,pods", "-n", k8s_namespace, "-o", "name").stdout.split()
    assert [name.split("-")[0] for name in left] == ["replicaset.apps/web", "pod/web"]
    rs = sandbox_cluster.get_json("rs", left[0].split("/")[1], k8s_namespace)
    assert "ownerReferences" not in rs["metadata"]
