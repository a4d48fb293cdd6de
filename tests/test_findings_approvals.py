"""Finding 02: an approval decision is bound to its call. A resume delivered again (Celery delivers at least once)
never runs another call, and the policy is read again right before an approved call runs. What reached the
cluster is counted in the sandbox's own request log."""

import time

import pytest

from tests.scripted_llm import call, plan, say, verdict
from workflows.models import Approval, Run

pytestmark = pytest.mark.e2e


def scale(ns: str, replicas: int) -> dict:
    return call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": replicas})


def scale_changes(shop) -> list[dict]:
    return [r for r in shop.sandbox.changes(f"/namespaces/{shop.namespace}/deployments/web") if r["status"] < 300]


def deliver(stack, task: str, *args) -> None:
    """Put a task message on the stack's broker, as Celery redelivers one, and wait until its worker ran it."""
    from skyflo.celery import app

    task_id = app.send_task(task, args=list(args)).id
    deadline = time.monotonic() + 60
    while f"{task_id}] succeeded" not in stack.worker.log():
        assert time.monotonic() < deadline, stack.worker.log()[-3000:]
        time.sleep(0.1)


def two_scales(live_llm, ns: str) -> None:
    live_llm.set_script(
        [
            plan([("Scale web to 3", "k8s_scale"), ("Scale web to 4", "k8s_scale")]),
            scale(ns, 3),
            scale(ns, 4),
            verdict(True, "web has 4 replicas"),
            say("Scaled web to 3, then 4.", agent="responder"),
        ]
    )


def test_finding_02_replayed_resume_does_not_run_next_call(shop, live_llm):
    two_scales(live_llm, shop.namespace)
    with shop.socket() as events:
        run_id = shop.ask("scale web to 3 then 4")["run"]["id"]
        first = events.until("approval.requested")["data"]
        assert shop.decide(first["approval_id"], "approve", user=shop.operator2).status_code == 200
        second = events.until("approval.requested", lambda f: f["data"]["approval_id"] != first["approval_id"])["data"]
        assert len(scale_changes(shop)) == 1

        by = str(shop.operator2.id)
        replays = [
            {"approval_id": first["approval_id"], "call_id": first["call_id"]},  # what the decision dispatched
            {"decision": "approve", "by": by, "reason": ""},  # the message without ids (before this fix)
            {"approval_id": second["approval_id"], "call_id": second["call_id"]},  # not decided yet
            {"approval_id": first["approval_id"], "call_id": second["call_id"]},  # mixed up
        ]
        for replay in replays:
            deliver(shop.stack, "workflows.tasks.run_resume", run_id, replay)

        assert len(scale_changes(shop)) == 1
        assert Run.objects.get(pk=run_id).status == "awaiting_approval"
        assert Approval.objects.get(pk=second["approval_id"]).decision == "pending"
        assert shop.decide(second["approval_id"], "approve", user=shop.operator2).status_code == 200
        assert events.until("run.finished")["data"]["status"] == "succeeded"
    deliver(shop.stack, "workflows.tasks.run_resume", run_id, replays[0])  # late: the run is over
    assert len(scale_changes(shop)) == 2
    assert shop.replicas()[0] == 4
    assert Run.objects.get(pk=run_id).status == "succeeded"


def test_finding_02_rights_are_read_again_right_before_the_approved_call(shop, live_llm):
    from guardian.shortcuts import remove_perm

    live_llm.set_script(
        [
            plan([("Scale web to 3", "k8s_scale")]),
            scale(shop.namespace, 3),
            verdict(True, "nothing to check: the call was refused"),
            say("The approver may no longer approve changes; nothing was scaled.", agent="responder"),
        ]
    )
    with shop.socket() as events:
        run_id = shop.ask("scale web to 3")["run"]["id"]
        approval = events.until("approval.requested")["data"]
        shop.stack.worker_kill()  # the resume waits in the broker while the approver loses the right
        try:
            assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
            remove_perm("orgs.operate_cluster", shop.operator2, shop.cluster)
        finally:
            shop.stack.worker_start()
        assert events.until("run.finished")["data"]["status"] == "failed"
    assert scale_changes(shop) == []
    assert shop.replicas()[0] == 1
    refused = [f for f in events.of("step.finished") if f["data"]["status"] == "refused"]
    assert len(refused) == 1
    assert Run.objects.get(pk=run_id).status == "failed"
