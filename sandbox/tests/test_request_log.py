"""The request log tells what a client really did: mutations with their target, dry runs and reads apart."""

from sandbox.tests.manifests import as_input, deployment


def test_it_logs_each_mutation_with_its_target_and_tells_reads_and_dry_runs_apart(sandbox_cluster, k8s_namespace):
    ns = k8s_namespace
    start, _ = sandbox_cluster.requests_after(0)

    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(deployment(ns, "web", replicas=1)))
    sandbox_cluster.kubectl("get", "deploy", "web", "-n", ns)
    sandbox_cluster.kubectl("scale", "deploy/web", "-n", ns, "--replicas=2", "--dry-run=server")
    sandbox_cluster.kubectl("delete", "deploy", "web", "-n", ns)
    last, entries = sandbox_cluster.requests_after(start)

    assert last == entries[-1]["seq"]
    assert [e["seq"] for e in entries] == list(range(start + 1, last + 1))
    mutations = [(e["verb"], e["resource"], e["namespace"], e["name"], e["status"]) for e in entries if e["mutating"]]
    assert mutations == [("create", "deployments", ns, "", 201), ("delete", "deployments", ns, "web", 200)]
    dry = [e for e in entries if e["dry_run"]]
    assert [(e["verb"], e["subresource"], e["mutating"]) for e in dry] == [("patch", "scale", False)]
    reads = [e for e in entries if e["verb"] == "get" and e["resource"] == "deployments"]
    assert reads
    assert reads[0]["user_agent"].startswith("kubectl")


def test_it_answers_only_what_came_after_the_given_sequence(sandbox_cluster, k8s_namespace):
    last, _ = sandbox_cluster.requests_after(0)

    again, entries = sandbox_cluster.requests_after(last)

    assert again == last
    assert entries == []
