"""kill -9 of the worker in the middle of a run: another worker finishes it, the change is not repeated."""

import pytest

from tests.scripted_llm import call, plan, say, verdict
from workflows.models import Run, ToolCall

pytestmark = pytest.mark.e2e


def test_it_finishes_on_a_new_worker_without_repeating_the_change(shop, live_llm):
    ns = shop.namespace
    slow_verdict = verdict(True, "web has 3 ready replicas")
    slow_verdict["tokens_per_second"] = 3  # the first worker dies while this streams
    live_llm.set_script(
        [
            plan([("Scale web to 3 replicas", "k8s_scale")]),
            call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 3}),
            slow_verdict,
            verdict(True, "web has 3 ready replicas"),
            say("Scaled web to 3 replicas; verified.", agent="responder"),
        ]
    )
    with shop.socket() as events:
        run_id = shop.ask("scale web in shop to 3 replicas")["run"]["id"]
        approval_id = events.until("approval.requested")["data"]["approval_id"]
        assert shop.decide(approval_id, "approve", user=shop.operator2).status_code == 200
        events.until("tool.result", lambda f: f["data"]["call_id"].endswith(":s1:1"))
        events.until("step.finished")
        first = shop.stack.worker
        shop.stack.worker_kill()
        assert Run.objects.get(pk=run_id).status == "running"
        shop.stack.worker_start()
        assert events.until("run.finished", timeout=90)["data"]["status"] == "succeeded"
    assert not first.alive()
    run = Run.objects.get(pk=run_id)
    assert run.attempt == 1
    assert run.worker != ""
    assert ToolCall.objects.filter(run_id=run_id, tool="k8s_scale").count() == 1
    assert len([f for f in events.of("tool.call") if f["data"]["tool"] == "k8s_scale"]) == 1
    assert shop.replicas_settled() == (3, 3)
