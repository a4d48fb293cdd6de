"""SIGKILL of the Celery worker at the worst moments of a run: during a mutating command, between the claim and
the approval, during the verifier. Another worker finishes the run; no change runs twice or unapproved."""

import pytest

from tests.faults.conftest import Browser, assert_approved_changes, assert_consistent, wait_for_change_received
from tests.scripted_llm import call, plan, say, verdict
from workflows.models import Approval, Run, ToolCall

pytestmark = pytest.mark.e2e


def scale_to(shop, replicas: int) -> dict:
    args = {"kind": "deployment", "name": "web", "namespace": shop.namespace, "replicas": replicas}
    return call("k8s_scale", args)


def slow(turn: dict, tokens_per_second: float = 4) -> dict:
    return {**turn, "tokens_per_second": tokens_per_second}


def test_it_survives_a_worker_killed_during_a_mutating_command(fault_shop):
    shop = fault_shop
    shop.sandbox.kubectl("annotate", "deployment/web", "-n", shop.namespace, "sandbox.skyflo.dev/write-delay-s=4")
    shop.stack.llm.set_script(
        [
            plan([("Scale web to 3", "k8s_scale")]),
            scale_to(shop, 3),
            verdict(True, "web has 3 replicas"),
            say("Scaled web to 3; the first attempt's outcome was checked.", agent="responder"),
        ]
    )
    with Browser(shop.stack, shop.operator, shop.conversation_id) as browser:
        run_id = shop.ask("scale web to 3")["run"]["id"]
        approval = browser.until("approval.requested")["data"]
        assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
        browser.until("tool.call", lambda f: f["data"]["tool"] == "k8s_scale")
        wait_for_change_received(shop, run_id)  # kubectl's request is at the sandbox, which answers 4 s late
        shop.stack.worker_kill()
        shop.stack.worker_start()
        assert browser.finished(run_id)["status"] == "succeeded"
        assert_consistent(shop, run_id, browser)
    assert_approved_changes(shop, run_id, 1)
    assert ToolCall.objects.get(run_id=run_id, tool="k8s_scale").state == "started"  # outcome unknown, not re-run
    assert Run.objects.get(pk=run_id).attempt == 1
    assert shop.replicas_settled() == (3, 3)


def test_it_survives_a_worker_killed_between_claim_and_approval(fault_shop):
    shop = fault_shop
    shop.stack.llm.set_script(
        [
            slow(plan([("Scale web to 2", "k8s_scale")], summary="a plan that streams slowly " * 4)),
            plan([("Scale web to 2", "k8s_scale")]),
            scale_to(shop, 2),
            verdict(True, "web has 2 replicas"),
            say("Scaled web to 2.", agent="responder"),
        ]
    )
    with Browser(shop.stack, shop.operator, shop.conversation_id) as browser:
        run_id = shop.ask("scale web to 2")["run"]["id"]
        browser.until("run.started")
        shop.stack.worker_kill()  # the planner is streaming; no approval was asked for yet
        assert Run.objects.get(pk=run_id).status == "running"
        shop.stack.worker_start()
        approval = browser.until("approval.requested")["data"]
        assert web_unchanged(shop)
        assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
        assert browser.finished(run_id)["status"] == "succeeded"
        assert_consistent(shop, run_id, browser)
    assert Approval.objects.filter(run_id=run_id).count() == 1
    assert_approved_changes(shop, run_id, 1)
    assert shop.replicas()[0] == 2


def web_unchanged(shop) -> bool:
    from tests.faults.conftest import web_changes

    return web_changes(shop) == []


def test_it_survives_a_worker_killed_during_the_verifier(fault_shop):
    shop = fault_shop
    shop.stack.llm.set_script(
        [
            plan([("Scale web to 3", "k8s_scale")]),
            scale_to(shop, 3),
            slow(verdict(True, "web has 3 ready replicas " * 5)),
            verdict(True, "web has 3 ready replicas"),
            say("Scaled web to 3; verified.", agent="responder"),
        ]
    )
    with Browser(shop.stack, shop.operator, shop.conversation_id) as browser:
        run_id = shop.ask("scale web to 3")["run"]["id"]
        approval = browser.until("approval.requested")["data"]
        assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
        browser.until("step.finished")
        shop.stack.worker_kill()
        shop.stack.worker_start()
        assert browser.finished(run_id)["status"] == "succeeded"
        assert_consistent(shop, run_id, browser)
    assert_approved_changes(shop, run_id, 1)
    assert ToolCall.objects.get(run_id=run_id, tool="k8s_scale").state == "succeeded"
    assert shop.replicas_settled() == (3, 3)
