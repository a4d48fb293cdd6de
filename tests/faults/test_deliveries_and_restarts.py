"""A resume delivered twice and late; Redis (broker and channel layer) restarted empty mid-run; daphne killed with
sockets open. Each run ends correctly, each approved change runs once, every browser ends with the log's frames."""

import time

import pytest

from tests.faults.conftest import (
    DEADLINE_S,
    Browser,
    assert_approved_changes,
    assert_consistent,
    web_restart,
)
from tests.scripted_llm import call, plan, say, verdict
from workflows.models import Run

pytestmark = pytest.mark.e2e


def scale_script(shop, replicas: int, *, slow_verdict: bool = False) -> list[dict]:
    args = {"kind": "deployment", "name": "web", "namespace": shop.namespace, "replicas": replicas}
    checked = verdict(True, f"web has {replicas} replicas " * (6 if slow_verdict else 1))
    if slow_verdict:
        checked["tokens_per_second"] = 4
    return [
        plan([(f"Scale web to {replicas}", "k8s_scale")]),
        call("k8s_scale", args),
        checked,
        say(f"Scaled web to {replicas}.", agent="responder"),
    ]


def deliver(stack, run_id: str, resume: dict) -> str:
    """A run_resume message on the stack's broker, as Celery's at-least-once delivery repeats one."""
    from celery import Celery

    app = Celery(broker=stack.env["REDIS_URL"])
    return app.send_task("workflows.tasks.run_resume", args=[run_id, resume]).id


def wait_task_done(stack, task_id: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while f"{task_id}] succeeded" not in stack.worker.log():
        assert time.monotonic() < deadline, stack.worker.log()[-3000:]
        time.sleep(0.1)


def test_a_resume_delivered_twice_and_late_runs_the_change_once(fault_shop):
    shop = fault_shop
    shop.stack.llm.set_script(scale_script(shop, 3))
    with Browser(shop.stack, shop.operator, shop.conversation_id) as browser:
        run_id = shop.ask("scale web to 3")["run"]["id"]
        approval = browser.until("approval.requested")["data"]
        resume = {"approval_id": approval["approval_id"], "call_id": approval["call_id"]}
        shop.stack.worker_kill()
        assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
        twice = deliver(shop.stack, run_id, resume)  # the decision's own message and this copy wait together
        shop.stack.worker_start()
        assert browser.finished(run_id)["status"] == "succeeded"
        wait_task_done(shop.stack, twice)
        wait_task_done(shop.stack, deliver(shop.stack, run_id, resume))  # late: after the run finished
        assert_consistent(shop, run_id, browser)
    assert_approved_changes(shop, run_id, 1)
    assert Run.objects.get(pk=run_id).status == "succeeded"
    assert shop.replicas()[0] == 3


def test_redis_restarted_empty_mid_run(fault_shop):
    """Broker queues, unacknowledged messages and channel-layer groups are gone; the run still ends, once."""
    shop = fault_shop
    shop.stack.llm.set_script(scale_script(shop, 2, slow_verdict=True))
    with Browser(shop.stack, shop.operator, shop.conversation_id) as browser:
        run_id = shop.ask("scale web to 2")["run"]["id"]
        approval = browser.until("approval.requested")["data"]
        assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
        shop.stack.redis.kill()  # whether the resume was taken yet or still queued
        shop.stack.redis.start()
        assert browser.finished(run_id)["status"] == "succeeded"
        assert_consistent(shop, run_id, browser)
    assert_approved_changes(shop, run_id, 1)
    assert shop.replicas()[0] == 2


def test_redis_restarted_empty_while_a_run_streams(fault_shop):
    shop = fault_shop
    shop.stack.llm.set_script(scale_script(shop, 4, slow_verdict=True))
    with Browser(shop.stack, shop.operator, shop.conversation_id) as browser:
        run_id = shop.ask("scale web to 4")["run"]["id"]
        approval = browser.until("approval.requested")["data"]
        assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
        browser.until("step.finished")  # the verifier is streaming
        shop.stack.redis.kill()
        shop.stack.redis.start()
        assert browser.finished(run_id)["status"] == "succeeded"
        assert_consistent(shop, run_id, browser)
    assert_approved_changes(shop, run_id, 1)


def test_daphne_killed_with_sockets_open(fault_shop):
    shop = fault_shop
    shop.stack.llm.set_script(scale_script(shop, 3, slow_verdict=True))
    with (
        Browser(shop.stack, shop.operator, shop.conversation_id) as operator,
        Browser(shop.stack, shop.viewer, shop.conversation_id) as viewer,
    ):
        run_id = shop.ask("scale web to 3")["run"]["id"]
        approval = operator.until("approval.requested")["data"]
        assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
        operator.until("step.finished")
        web_restart(shop.stack)
        assert operator.finished(run_id)["status"] == "succeeded"
        assert_consistent(shop, run_id, operator, viewer)
        assert operator.reconnects >= 1
    assert_approved_changes(shop, run_id, 1)
