"""The verifier catches an unmet goal, the planner tries again, the second attempt passes."""

import pytest

from tests.scripted_llm import call, plan, say, verdict
from workflows.models import Run, ToolCall

pytestmark = pytest.mark.e2e


def test_it_replans_after_a_failed_verification(shop, live_llm):
    ns = shop.namespace
    scale = {"kind": "deployment", "name": "web", "namespace": ns}
    live_llm.set_script(
        [
            plan([("Scale web", "k8s_scale")]),
            call("k8s_scale", {**scale, "replicas": 2}),  # the first attempt gets the number wrong
            call("k8s_get", {"kind": "deployment", "name": "web", "namespace": ns}, agent="verifier"),
            verdict(False, "web has 2 replicas, 3 were asked for"),
            plan([("Scale web to 3 replicas", "k8s_scale")], summary="retry with the right count"),
            call("k8s_scale", {**scale, "replicas": 3}),
            verdict(True, "web has 3 replicas"),
            say("The first attempt left web at 2; the second scaled it to 3, verified.", agent="responder"),
        ]
    )
    with shop.socket() as events:
        run_id = shop.ask("scale web in shop to 3 replicas")["run"]["id"]
        for _ in range(2):
            approval_id = events.until("approval.requested")["data"]["approval_id"]
            assert shop.decide(approval_id, "approve", user=shop.operator2).status_code == 200
        assert events.until("run.finished")["data"]["status"] == "succeeded"
    assert [f["data"]["passed"] for f in events.of("verification.result")] == [False, True]
    assert len(events.of("plan.created")) == 2
    assert list(ToolCall.objects.filter(run_id=run_id, tool="k8s_scale").values_list("args__replicas", flat=True)) in (
        [2, 3],
        [3, 2],
    )
    assert Run.objects.get(pk=run_id).replans == 1
    assert shop.replicas_settled() == (3, 3)
