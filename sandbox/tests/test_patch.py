"""kubectl patch (merge, strategic, json), label and annotate."""

from sandbox.tests.manifests import as_input, deployment


def _deploy(sandbox_cluster, namespace):
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(namespace, "web")))


def test_it_applies_a_merge_patch(sandbox_cluster, k8s_namespace):
    _deploy(sandbox_cluster, k8s_namespace)

    out = sandbox_cluster.kubectl(
        "patch", "deployment", "web", "-n", k8s_namespace, "--type=merge", "-p", '{"spec":{"replicas":3}}'
    )

    assert out.stdout.strip() == "deployment.apps/web patched"
    live = sandbox_cluster.get_json("deployment", "web", k8s_namespace)
    assert live["spec"]["replicas"] == 3
    assert live["metadata"]["generation"] == 2


def test_it_merges_containers_by_name_in_a_strategic_patch(sandbox_cluster, k8s_namespace):
    _deploy(sandbox_cluster, k8s_namespace)
    patch = '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"MODE","value":"debug"}]}]}}}}'

    sandbox_cluster.kubectl("patch", "deployment", "web", "-n", k8s_namespace, "-p", patch)

    containers = sandbox_cluster.get_json("deployment", "web", k8s_namespace)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    assert containers[0]["image"] == "nginx:1.27"
    assert containers[0]["env"] == [{"name": "MODE", "value": "debug"}]


def test_it_applies_a_json_patch(sandbox_cluster, k8s_namespace):
    _deploy(sandbox_cluster, k8s_namespace)
    patch = '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.29"}]'

    sandbox_cluster.kubectl("patch", "deployment", "web", "-n", k8s_namespace, "--type=json", "-p", patch)

    live = sandbox_cluster.get_json("deployment", "web", k8s_namespace)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.29"


def test_it_rejects_a_failing_json_patch_test(sandbox_cluster, k8s_namespace):
    _deploy(sandbox_cluster, k8s_namespace)
    patch = '[{"op":"test","path":"/spec/replicas","value":7},{"op":"replace","path":"/spec/replicas","value":1}]'

    out = sandbox_cluster.kubectl(
        "patch", "deployment", "web", "-n", k8s_namespace, "--type=json", "-p", patch, check=False
    )

    assert out.returncode == 1
    assert sandbox_cluster.get_json("deployment", "web", k8s_namespace)["spec"]["replicas"] == 2


def test_it_labels_and_annotates(sandbox_cluster, k8s_namespace):
    _deploy(sandbox_cluster, k8s_namespace)

    labeled = sandbox_cluster.kubectl("label", "deployment", "web", "tier=frontend", "-n", k8s_namespace)
    annotated = sandbox_cluster.kubectl("annotate", "deployment", "web", "owner=team-a", "-n", k8s_namespace)
    selected = sandbox_cluster.kubectl("get", "deploy", "-l", "tier=frontend", "-n", k8s_namespace, "-o", "name")
    unselected = sandbox_cluster.kubectl("get", "deploy", "-l", "tier!=frontend", "-n", k8s_namespace, "-o", "name")

    assert labeled.stdout.strip() == "deployment.apps/web labeled"
    assert annotated.stdout.strip() == "deployment.apps/web annotated"
    assert selected.stdout.strip() == "deployment.apps/web"
    assert unselected.stdout == ""
    live = sandbox_cluster.get_json("deployment", "web", k8s_namespace)
    assert live["metadata"]["labels"] == {"app": "web", "tier": "frontend"}
    assert live["metadata"]["annotations"]["owner"] == "team-a"
    assert live["metadata"]["generation"] == 1

    sandbox_cluster.kubectl("label", "deployment", "web", "tier-", "-n", k8s_namespace)
    assert sandbox_cluster.get_json("deployment", "web", k8s_namespace)["metadata"]["labels"] == {"app": "web"}
