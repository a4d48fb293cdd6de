"""PodDisruptionBudgets (policy/v1): what a Helm chart with a PDB needs from the sandbox."""

from sandbox.tests.manifests import as_input


def test_it_applies_lists_and_deletes_a_pod_disruption_budget(sandbox_cluster, k8s_namespace):
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": k8s_namespace},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }

    applied = sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(pdb))

    assert "poddisruptionbudget.policy/web created" in applied.stdout
    assert sandbox_cluster.get_json("pdb", "web", k8s_namespace)["spec"]["minAvailable"] == 1
    listed = sandbox_cluster.kubectl("get", "poddisruptionbudgets", "-n", k8s_namespace, "-o", "name").stdout.split()
    assert listed == ["poddisruptionbudget.policy/web"]
    sandbox_cluster.kubectl("delete", "pdb", "web", "-n", k8s_namespace)
    assert sandbox_cluster.kubectl("get", "pdb", "-n", k8s_namespace, "-o", "name").stdout.strip() == ""


def test_discovery_reports_pod_disruption_budgets(sandbox_cluster):
    resources = sandbox_cluster.kubectl("api-resources", "--api-group=policy", "-o", "name").stdout.split()

    assert resources == ["poddisruptionbudgets.policy"]
