"""Finding 17: a run whose dispatch was lost (Redis restarted without persistence before a worker took it) and an
approved run whose resume was lost are dispatched again by beat's recovery job, and end as if nothing happened."""

import pytest

from tests.faults.conftest import Browser, assert_approved_changes, assert_consistent
from tests.scripted_llm import call, plan, say, verdict
from workflows.models import Run

pytestmark = pytest.mark.e2e


def redis_restarted_empty(stack) -> None:
    stack.redis.kill()
    stack.redis.start()


def test_finding_17_a_run_whose_dispatch_was_lost_still_runs(fault_shop):
    shop = fault_shop
    shop.stack.llm.set_script([plan([]), say("Hello; nothing to change.", agent="responder")])
    with Browser(shop.stack, shop.operator, shop.conversation_id) as browser:
        shop.stack.worker_kill()
        try:
            run_id = shop.ask("hello")["run"]["id"]
            redis_restarted_empty(shop.stack)  # the run's message was waiting in the broker
            with shop.client(shop.operator) as client:
                busy = client.post(f"/conversations/{shop.conversation_id}/messages/", json={"content": "again"})
            assert busy.status_code == 409
        finally:
            shop.stack.worker_start()
        assert browser.finished(run_id)["status"] == "succeeded"
        assert_consistent(shop, run_id, browser)
    assert Run.objects.get(pk=run_id).status == "succeeded"
    assert browser.until("message.completed")["data"]["message"]["content"] == "Hello; nothing to change."


def test_finding_17_an_approved_run_whose_resume_was_lost_resumes(fault_shop):
    shop = fault_shop
    args = {"kind": "deployment", "name": "web", "namespace": shop.namespace, "replicas": 2}
    shop.stack.llm.set_script(
        [
            plan([("Scale web to 2", "k8s_scale")]),
            call("k8s_scale", args),
            verdict(True, "web has 2 replicas"),
            say("Scaled web to 2.", agent="responder"),
        ]
    )
    with Browser(shop.stack, shop.operator, shop.conversation_id) as browser:
        run_id = shop.ask("scale web to 2")["run"]["id"]
        approval_id = browser.until("approval.requested")["data"]["approval_id"]
        shop.stack.worker_kill()
        try:
            assert shop.decide(approval_id, "approve", user=shop.operator2).status_code == 200
            redis_restarted_empty(shop.stack)  # the resume was waiting in the broker
        finally:
            shop.stack.worker_start()
        assert browser.finished(run_id)["status"] == "succeeded"
        assert_consistent(shop, run_id, browser)
    assert_approved_changes(shop, run_id, 1)
    assert shop.replicas()[0] == 2
