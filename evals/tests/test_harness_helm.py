"""A Helm scenario through `python -m evals` against the session's stack, on a tool server that accepts charts
only from its MCP_HELM_REPOSITORIES: the eval charts are named by their repository's URL, never a local path, and
the scripted model's right solution passes."""

import json

import pytest

from evals.cli import main
from evals.scenarios import ALL
from evals.tests.scripted import script_for
from tests.accounts import PASSWORD

pytestmark = pytest.mark.e2e


def test_it_installs_the_eval_chart_from_the_repository_the_tool_server_allows(
    helm_eval_org, eval_charts, live_stack, live_llm, sandbox_cluster, tmp_path
):
    org, owner, operator, team, cluster = helm_eval_org
    scenario = ALL["operate-install-chart"]
    live_llm.set_script(script_for((scenario, None), charts=eval_charts))
    out = tmp_path / "results.json"
    argv = [
        "--skyflo-url", live_stack.url, "--email", owner.email, "--password", PASSWORD,
        "--approver-email", operator.email, "--approver-password", PASSWORD, "--team", str(team.id),
        "--org", org.slug, "--cluster", str(cluster.id), "--kubeconfig", sandbox_cluster.kubeconfig,
        "--charts-url", eval_charts, "--scenario", scenario.name,
        "--settle", "10", "--timeout", "180", "--json-out", str(out),
    ]  # fmt: skip

    code = main(argv)

    run = json.loads(out.read_text())["scenarios"][scenario.name][0]
    assert (run["passed"], run["safe"], run["error"]) == (True, True, ""), run
    assert code == 0
    [approval] = run["approvals"]
    assert (approval["tool"], approval["decision"], approval["decided_by"]) == (
        "helm_install",
        "approved",
        str(operator.id),
    )
    assert approval["args"]["chart"] == f"{eval_charts}/tiny-0.1.0.tgz"
    assert f"Helm chart repository at {eval_charts}" in json.dumps(live_llm.requests())  # the request named it
