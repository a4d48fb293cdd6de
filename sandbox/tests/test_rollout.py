"""Scale, rollout status/history/restart/undo, set image and wait on Deployments."""

import json

from sandbox.tests.manifests import as_input, deployment


def _deploy(sandbox_cluster, namespace, **kw):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(namespace, "web", **kw)))
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")


def _revisions(sandbox_cluster, namespace) -> list[str]:
    out = sandbox_cluster.kubectl("rollout", "history", "deployment/web", "-n", namespace).stdout
    return [line.split()[0] for line in out.splitlines()[2:] if line.strip()]


def test_it_scales_a_deployment_through_the_scale_subresource(sandbox_cluster, k8s_namespace):
    _deploy(sandbox_cluster, k8s_namespace)

    out = sandbox_cluster.kubectl("scale", "deployment/web", "--replicas=4", "-n", k8s_namespace)
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    assert out.stdout.strip() == "deployment.apps/web scaled"
    live = sandbox_cluster.get_json("deployment", "web", k8s_namespace)
    assert live["spec"]["replicas"] == 4
    assert live["status"]["readyReplicas"] == 4
    pods = sandbox_cluster.kubectl("get", "pods", "-n", k8s_namespace, "-l", "app=web", "-o", "name").stdout
    assert len(pods.split()) == 4


def test_it_rolls_out_a_new_image_and_keeps_history(sandbox_cluster, k8s_namespace):
    _deploy(sandbox_cluster, k8s_namespace)

    sandbox_cluster.kubectl("set", "image", "deployment/web", "web=nginx:1.28", "-n", k8s_namespace)
    status = sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    assert 'deployment "web" successfully rolled out' in status.stdout
    assert _revisions(sandbox_cluster, k8s_namespace) == ["1", "2"]
    images = sandbox_cluster.kubectl(
        "get", "pods", "-n", k8s_namespace, "-o", "jsonpath={.items[*].spec.containers[0].image}"
    ).stdout.split()
    assert images == ["nginx:1.28", "nginx:1.28"]
    rs = json.loads(sandbox_cluster.kubectl("get", "rs", "-n", k8s_namespace, "-o", "json").stdout)["items"]
    replicas = sorted(
        (r["metadata"]["annotations"]["deployment.kubernetes.io/revision"], r["spec"]["replicas"]) for r in rs
    )
    assert replicas == [("1", 0), ("2", 2)]
    assert all(r["metadata"]["ownerReferences"][0]["kind"] == "Deployment" for r in rs)


def test_it_undoes_a_rollout_to_the_previous_revision(sandbox_cluster, k8s_namespace):
    _deploy(sandbox_cluster, k8s_namespace)
    sandbox_cluster.kubectl("set", "image", "deployment/web", "web=nginx:1.28", "-n", k8s_namespace)
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    out = sandbox_cluster.kubectl("rollout", "undo", "deployment/web", "-n", k8s_namespace)
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    assert out.stdout.strip() == "deployment.apps/web rolled back"
    image = sandbox_cluster.kubectl(
        "get", "deploy", "web", "-n", k8s_namespace, "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    )
    assert image.stdout == "nginx:1.27"
    assert _revisions(sandbox_cluster, k8s_namespace) == ["2", "3"]


def test_it_restarts_a_rollout_as_a_new_revision(sandbox_cluster, k8s_namespace):
    _deploy(sandbox_cluster, k8s_namespace)
    before = set(sandbox_cluster.kubectl("get", "pods", "-n", k8s_namespace, "-o", "name").stdout.split())

    out = sandbox_cluster.kubectl("rollout", "restart", "deployment/web", "-n", k8s_namespace)
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")
    sandbox_cluster.kubectl("wait", "--for=delete", *before, "-n", k8s_namespace, "--timeout=10s")

    assert out.stdout.strip() == "deployment.apps/web restarted"
    after = set(sandbox_cluster.kubectl("get", "pods", "-n", k8s_namespace, "-o", "name").stdout.split())
    assert len(after) == 2
    assert not before & after
    assert _revisions(sandbox_cluster, k8s_namespace) == ["1", "2"]
    live = sandbox_cluster.get_json("deployment", "web", k8s_namespace)
    assert "kubectl.kubernetes.io/restartedAt" in live["spec"]["template"]["metadata"]["annotations"]


def test_it_waits_for_the_available_condition(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(k8s_namespace, "web")))

    out = sandbox_cluster.kubectl(
        "wait", "--for=condition=Available", "deployment/web", "-n", k8s_namespace, "--timeout=30s"
    )

    assert out.stdout.strip() == "deployment.apps/web condition met"
    live = sandbox_cluster.get_json("deployment", "web", k8s_namespace)
    assert live["status"]["availableReplicas"] == 2
    assert live["status"]["observedGeneration"] == live["metadata"]["generation"]


def test_it_reports_a_progress_deadline_for_an_image_that_cannot_be_pulled(sandbox_cluster, k8s_namespace):
    _deploy(sandbox_cluster, k8s_namespace)
    sandbox_cluster.kubectl(
        "patch",
        "deployment",
        "web",
        "-n",
        k8s_namespace,
        "--type=merge",
        "-p",
        '{"spec":{"progressDeadlineSeconds":1}}',
    )

    sandbox_cluster.kubectl("set", "image", "deployment/web", "web=nginx:doesnotexist", "-n", k8s_namespace)
    status = sandbox_cluster.kubectl(
        "rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=20s", check=False
    )

    assert status.returncode == 1
    assert 'deployment "web" exceeded its progress deadline' in status.stderr
    live = sandbox_cluster.get_json("deployment", "web", k8s_namespace)
    assert live["status"]["readyReplicas"] == 2
    progressing = next(c for c in live["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
