"""SIGTERM to the Celery worker (a deploy, a scale-down) while a run is in flight: the process ends within 10 s, and
the run is continued by another worker as recovery expects; the approved change runs once."""

import os
import signal
import subprocess

import pytest

from tests.faults.conftest import Browser, assert_approved_changes, assert_consistent
from tests.faults.test_worker_killed import scale_to, slow
from tests.scripted_llm import plan, say, verdict
from workflows.models import Run, ToolCall

pytestmark = pytest.mark.e2e
STOP_WITHIN_S = 10  # what an orchestrator gives a process before SIGKILL (Kubernetes: 30 s by default)


def sigterm_ends_within(proc, seconds: float) -> bool:
    os.kill(proc.pid, signal.SIGTERM)  # the worker's own pid, as an orchestrator signals its main process
    try:
        proc.popen.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def test_a_worker_stopped_with_sigterm_mid_run_exits_and_another_worker_finishes_the_run(fault_shop):
    shop = fault_shop
    shop.stack.llm.set_script(
        [
            plan([("Scale web to 3", "k8s_scale")]),
            scale_to(shop, 3),
            slow(verdict(True, "web has 3 ready replicas " * 20)),  # ~40 s of verifier
            verdict(True, "web has 3 ready replicas"),
            say("Scaled web to 3; verified.", agent="responder"),
        ]
    )
    with Browser(shop.stack, shop.operator, shop.conversation_id) as browser:
        run_id = shop.ask("scale web to 3")["run"]["id"]
        approval = browser.until("approval.requested")["data"]
        assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
        browser.until("step.finished")  # the change ran; the verifier streams slowly now
        stopped = shop.stack.worker
        assert sigterm_ends_within(stopped, STOP_WITHIN_S), stopped.log()[-3000:]
        assert Run.objects.get(pk=run_id).status == "queued"  # handed back for another worker, not failed
        shop.stack.worker_start()
        assert browser.finished(run_id)["status"] == "succeeded"
        assert_consistent(shop, run_id, browser)
    assert_approved_changes(shop, run_id, 1)
    assert ToolCall.objects.get(run_id=run_id, tool="k8s_scale").state == "succeeded"
    assert shop.replicas_settled() == (3, 3)
