"""Finding 17: a run whose dispatch was lost (a broker error, Redis restarted without persistence) and an approved
run whose resume was lost are dispatched again by beat's recovery job, and end as if nothing had happened."""

import pytest
import redis

from tests.scripted_llm import call, plan, say, verdict
from workflows.models import Run

pytestmark = pytest.mark.e2e


def broker_lose_queued_messages(stack) -> int:
    """What a Redis restart without persistence does to the messages waiting in the broker's queues."""
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    keys = list(client.scan_iter("celery*"))
    return client.delete(*keys) if keys else 0


def test_finding_17_a_run_whose_dispatch_was_lost_still_runs(shop, live_llm):
    live_llm.set_script([plan([]), say("Hello; nothing to change.", agent="responder")])
    with shop.socket() as events:
        shop.stack.worker_kill()
        try:
            run_id = shop.ask("hello")["run"]["id"]
            assert broker_lose_queued_messages(shop.stack) >= 1
            with shop.client(shop.operator) as client:
                busy = client.post(f"/conversations/{shop.conversation_id}/messages/", json={"content": "again"})
            assert busy.status_code == 409
        finally:
            shop.stack.worker_start()
        assert events.until("run.finished", timeout=60)["data"]["status"] == "succeeded"
    assert Run.objects.get(pk=run_id).status == "succeeded"
    assert events.of("message.completed")[0]["data"]["message"]["content"] == "Hello; nothing to change."


def test_finding_17_an_approved_run_whose_resume_was_lost_resumes(shop, live_llm):
    ns = shop.namespace
    live_llm.set_script(
        [
            plan([("Scale web to 2", "k8s_scale")]),
            call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 2}),
            verdict(True, "web has 2 replicas"),
            say("Scaled web to 2.", agent="responder"),
        ]
    )
    with shop.socket() as events:
        run_id = shop.ask("scale web to 2")["run"]["id"]
        approval_id = events.until("approval.requested")["data"]["approval_id"]
        shop.stack.worker_kill()
        try:
            assert shop.decide(approval_id, "approve", user=shop.operator2).status_code == 200
            assert broker_lose_queued_messages(shop.stack) >= 1
        finally:
            shop.stack.worker_start()
        assert events.until("run.finished", timeout=60)["data"]["status"] == "succeeded"
    changes = shop.sandbox.changes(f"/namespaces/{ns}/deployments/web")
    assert len([r for r in changes if r["status"] < 300]) == 1
    assert shop.replicas()[0] == 2
    assert Run.objects.get(pk=run_id).status == "succeeded"
