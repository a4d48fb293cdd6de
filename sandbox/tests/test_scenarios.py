"""The named scenarios, seeded through the admin endpoint or `python -m sandbox --scenario`."""

import json

from sandbox.testing import run_sandbox


def _pod(sandbox_cluster, namespace: str, app: str) -> dict:
    out = sandbox_cluster.kubectl("get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json").stdout
    return json.loads(out)["items"][0]


def _wait_waiting_reason(sandbox_cluster, namespace: str, app: str, reason: str) -> None:
    sandbox_cluster.kubectl(
        "wait",
        f"--for=jsonpath={{.status.containerStatuses[0].state.waiting.reason}}={reason}",
        "pod",
        "-l",
        f"app={app}",
        "-n",
        namespace,
        "--timeout=15s",
    )


def test_it_seeds_a_crashlooping_deployment_with_a_stack_trace(sandbox_cluster):
    namespace = sandbox_cluster.new_namespace("crash")

    created = sandbox_cluster.scenario("crashloop", namespace=namespace)
    _wait_waiting_reason(sandbox_cluster, namespace, "payments", "CrashLoopBackOff")

    assert created == ["deployment/payments"]
    pod = _pod(sandbox_cluster, namespace, "payments")
    assert pod["status"]["containerStatuses"][0]["restartCount"] > 0
    assert pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1
    row = sandbox_cluster.kubectl("get", "pods", "-n", namespace, "--no-headers").stdout.split()
    assert row[1:3] == ["0/1", "CrashLoopBackOff"]
    logs = sandbox_cluster.kubectl("logs", "deploy/payments", "-n", namespace).stdout
    assert "Traceback (most recent call last):" in logs
    assert logs.strip().endswith("KeyError: 'PAYMENTS_DATABASE_URL'")
    events = sandbox_cluster.kubectl("describe", "pod", pod["metadata"]["name"], "-n", namespace).stdout
    assert "Back-off restarting failed container payments" in events


def test_it_seeds_an_image_pull_failure_with_events(sandbox_cluster):
    namespace = sandbox_cluster.new_namespace("pull")

    sandbox_cluster.scenario("imagepull", namespace=namespace)
    _wait_waiting_reason(sandbox_cluster, namespace, "inventory", "ImagePullBackOff")

    events = sandbox_cluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "type=Warning", "-o", "jsonpath={.items[*].message}"
    ).stdout
    assert 'Failed to pull image "ghcr.io/skyflo-demo/inventory:doesnotexist"' in events
    assert "Error: ErrImagePull" in events
    assert "Error: ImagePullBackOff" in events
    available = sandbox_cluster.kubectl(
        "get",
        "deploy",
        "inventory",
        "-n",
        namespace,
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Available")].status}',
    )
    assert available.stdout == "False"


def test_it_seeds_an_unschedulable_pod(sandbox_cluster):
    namespace = sandbox_cluster.new_namespace("pending")

    sandbox_cluster.scenario("pending", namespace=namespace)
    sandbox_cluster.kubectl(
        "wait", "--for=condition=PodScheduled=False", "pod", "-l", "app=analytics", "-n", namespace, "--timeout=10s"
    )

    pod = _pod(sandbox_cluster, namespace, "analytics")
    assert pod["status"]["phase"] == "Pending"
    assert "nodeName" not in pod["spec"]
    events = sandbox_cluster.kubectl(
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        "reason=FailedScheduling",
        "-o",
        "jsonpath={.items[0].message}",
    ).stdout
    assert events.startswith("0/1 nodes are available: 1 Insufficient cpu.")


def test_it_seeds_a_service_that_selects_nothing(sandbox_cluster):
    namespace = sandbox_cluster.new_namespace("orphan")

    sandbox_cluster.scenario("orphan-service", namespace=namespace)

    svc = sandbox_cluster.get_json("service", "legacy-api", namespace)
    assert svc["spec"]["selector"] == {"app": "legacy-api-v1"}
    sandbox_cluster.kubectl("wait", "--for=create", "endpoints/legacy-api", "-n", namespace, "--timeout=10s")
    endpoints = sandbox_cluster.kubectl("get", "endpoints", "legacy-api", "-n", namespace, "--no-headers").stdout
    assert endpoints.split()[:2] == ["legacy-api", "<none>"]
    assert "subsets" not in sandbox_cluster.get_json("endpoints", "legacy-api", namespace)


def test_it_starts_with_the_demo_scenario_from_the_command_line():
    with run_sandbox(scenarios=("demo",)) as sandbox:
        sandbox.kubectl("rollout", "status", "deployment/web", "-n", "shop", "--timeout=30s")
        sandbox.kubectl("rollout", "status", "deployment/checkout", "-n", "shop", "--timeout=30s")
        names = sandbox.kubectl("get", "deploy,svc,cm,secret", "-n", "shop", "-o", "name").stdout.split()
        web = sandbox.get_json("deployment", "web", "shop")
        endpoints = sandbox.get_json("endpoints", "web", "shop")

    assert names == [
        "deployment.apps/checkout",
        "deployment.apps/payments",
        "deployment.apps/web",
        "service/checkout",
        "service/web",
        "configmap/shop-config",
        "secret/shop-secrets",
    ]
    assert web["status"]["readyReplicas"] == 2
    assert web["spec"]["template"]["spec"]["containers"][0]["image"].startswith("nginx")
    assert len(endpoints["subsets"][0]["addresses"]) == 2


def test_it_seeds_idempotently(sandbox_cluster):
    namespace = sandbox_cluster.new_namespace("again")

    first = sandbox_cluster.scenario("orphan-service", namespace=namespace)
    second = sandbox_cluster.scenario("orphan-service", namespace=namespace)

    assert first == ["service/legacy-api"]
    assert second == []
