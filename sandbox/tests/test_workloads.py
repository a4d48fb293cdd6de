"""StatefulSets, DaemonSets, Jobs, Services/Endpoints, events and namespace deletion."""

import json

import yaml

from sandbox.tests.manifests import as_input, deployment, service


def _pod_template(name: str, image: str = "nginx:1.27") -> dict:
    return {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": image}]}}


def test_it_runs_a_statefulset_with_ordinal_pods(sandbox_cluster, k8s_namespace):
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": k8s_namespace},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": _pod_template("db"),
        },
    }
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(sts))

    status = sandbox_cluster.kubectl("rollout", "status", "statefulset/db", "-n", k8s_namespace, "--timeout=30s")

    assert "roll out complete" in status.stdout or "partitioned roll out complete" in status.stdout
    pods = sandbox_cluster.kubectl("get", "pods", "-n", k8s_namespace, "-o", "name").stdout.split()
    assert pods == ["pod/db-0", "pod/db-1"]


def test_it_runs_a_daemonset_on_the_node(sandbox_cluster, k8s_namespace):
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": k8s_namespace},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": _pod_template("agent")},
    }
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(ds))

    sandbox_cluster.kubectl("rollout", "status", "daemonset/agent", "-n", k8s_namespace, "--timeout=30s")

    pod = json.loads(sandbox_cluster.kubectl("get", "pods", "-n", k8s_namespace, "-o", "json").stdout)["items"][0]
    assert pod["spec"]["nodeName"] == "sandbox-node"
    assert pod["status"]["phase"] == "Running"


def test_it_completes_a_job(sandbox_cluster, k8s_namespace):
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": k8s_namespace},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox"}]}}},
    }
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(job))

    out = sandbox_cluster.kubectl(
        "wait", "--for=condition=complete", "job/migrate", "-n", k8s_namespace, "--timeout=30s"
    )

    assert out.stdout.strip() == "job.batch/migrate condition met"
    rows = sandbox_cluster.kubectl("get", "pods", "-n", k8s_namespace, "--no-headers").stdout.split()
    assert rows[0].startswith("migrate-")
    assert rows[2] == "Completed"
    assert sandbox_cluster.get_json("job", "migrate", k8s_namespace)["status"]["succeeded"] == 1


def test_it_fills_endpoints_from_ready_pods_and_records_events(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl(
        "apply", "-f", "-", input=as_input(deployment(k8s_namespace, "web"), service(k8s_namespace, "web"))
    )
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")
    sandbox_cluster.kubectl(
        "wait", "--for=jsonpath={.subsets[0].addresses[1].ip}", "endpoints/web", "-n", k8s_namespace, "--timeout=10s"
    )

    endpoints = sandbox_cluster.get_json("endpoints", "web", k8s_namespace)
    pod_ips = sandbox_cluster.kubectl(
        "get", "pods", "-n", k8s_namespace, "-o", "jsonpath={.items[*].status.podIP}"
    ).stdout.split()
    reasons = sandbox_cluster.kubectl(
        "get", "events", "-n", k8s_namespace, "-o", "jsonpath={.items[*].reason}"
    ).stdout.split()
    svc = sandbox_cluster.get_json("service", "web", k8s_namespace)

    assert sorted(a["ip"] for a in endpoints["subsets"][0]["addresses"]) == sorted(pod_ips)
    assert svc["spec"]["clusterIP"].startswith("10.96.")
    assert {"ScalingReplicaSet", "SuccessfulCreate", "Scheduled", "Pulled", "Started"} <= set(reasons)


def test_it_filters_pods_by_field_selector(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(k8s_namespace, "web", replicas=1)))
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    running = sandbox_cluster.kubectl(
        "get",
        "pods",
        "-n",
        k8s_namespace,
        "--field-selector",
        "status.phase=Running,spec.nodeName=sandbox-node",
        "-o",
        "name",
    ).stdout.split()
    pending = sandbox_cluster.kubectl(
        "get", "pods", "-n", k8s_namespace, "--field-selector", "status.phase=Pending", "-o", "name"
    ).stdout

    assert len(running) == 1
    assert pending == ""


def test_it_deletes_everything_in_a_deleted_namespace(sandbox_cluster):
    namespace = sandbox_cluster.new_namespace("gone")
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(namespace, "web"), service(namespace, "web")))

    sandbox_cluster.kubectl("delete", "namespace", namespace)

    assert sandbox_cluster.kubectl("get", "ns", namespace, check=False).returncode == 1
    everything = sandbox_cluster.kubectl("get", "deploy,rs,pods,svc", "-A", "-o", "yaml").stdout
    assert all(item["metadata"]["namespace"] != namespace for item in yaml.safe_load(everything)["items"])


def test_it_serves_discovery_with_short_names(sandbox_cluster):
    resources = sandbox_cluster.kubectl("api-resources", "--no-headers").stdout.splitlines()
    versions = sandbox_cluster.kubectl("api-versions").stdout.split()
    nodes = sandbox_cluster.kubectl("get", "nodes", "--no-headers").stdout.split()

    rows = {line.split()[0]: line.split() for line in resources}
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert rows["clusterroles"][1:] == ["rbac.authorization.k8s.io/v1", "false", "ClusterRole"]
    assert {"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "autoscaling/v2"} <= set(versions)
    assert nodes[:2] == ["sandbox-node", "Ready"]


def test_it_answers_auth_can_i_with_yes(sandbox_cluster):
    single = sandbox_cluster.kubectl("auth", "can-i", "delete", "deployments", "-n", "default")
    listing = sandbox_cluster.kubectl("auth", "can-i", "--list").stdout.splitlines()

    assert single.stdout.strip() == "yes"
    assert listing[1].split() == ["*.*", "[]", "[]", "[*]"]
