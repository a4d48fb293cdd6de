"""kubectl apply --server-side: field ownership, removal of dropped fields, conflicts and --force-conflicts."""

from sandbox.tests.manifests import as_input, configmap


def test_it_creates_and_prunes_fields_owned_by_the_manager(sandbox_cluster, k8s_namespace):
    first = sandbox_cluster.kubectl(
        "apply", "--server-side", "-f", "-", input=as_input(configmap(k8s_namespace, "cfg", {"a": "1", "b": "2"}))
    )
    second = sandbox_cluster.kubectl(
        "apply", "--server-side", "-f", "-", input=as_input(configmap(k8s_namespace, "cfg", {"a": "1"}))
    )

    assert first.stdout.strip() == "configmap/cfg serverside-applied"
    assert second.stdout.strip() == "configmap/cfg serverside-applied"
    live = sandbox_cluster.get_json("configmap", "cfg", k8s_namespace)
    assert live["data"] == {"a": "1"}
    managed = sandbox_cluster.kubectl(
        "get",
        "cm",
        "cfg",
        "-n",
        k8s_namespace,
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    )
    assert managed.stdout == "kubectl"


def test_it_reports_conflicts_with_another_manager_unless_forced(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl(
        "apply", "--server-side", "-f", "-", input=as_input(configmap(k8s_namespace, "cfg", {"a": "1"}))
    )
    theirs = as_input(configmap(k8s_namespace, "cfg", {"a": "2"}))

    refused = sandbox_cluster.kubectl(
        "apply", "--server-side", "--field-manager=ops", "-f", "-", input=theirs, check=False
    )
    forced = sandbox_cluster.kubectl(
        "apply", "--server-side", "--field-manager=ops", "--force-conflicts", "-f", "-", input=theirs
    )

    assert refused.returncode == 1
    assert 'conflict with "kubectl"' in refused.stderr
    assert forced.stdout.strip() == "configmap/cfg serverside-applied"
    assert sandbox_cluster.get_json("configmap", "cfg", k8s_namespace)["data"] == {"a": "2"}


def test_it_diffs_against_a_server_side_dry_run(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl(
        "apply", "--server-side", "-f", "-", input=as_input(configmap(k8s_namespace, "cfg", {"a": "1"}))
    )

    out = sandbox_cluster.kubectl(
        "diff", "--server-side", "-f", "-", input=as_input(configmap(k8s_namespace, "cfg", {"a": "9"})), check=False
    )

    assert out.returncode == 1
    assert '-  a: "1"' in out.stdout
    assert '+  a: "9"' in out.stdout
    assert sandbox_cluster.get_json("configmap", "cfg", k8s_namespace)["data"] == {"a": "1"}
