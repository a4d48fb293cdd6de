"""The happy path and its refusals by a human: approve, deny, let the approval expire.

Real daphne, Celery worker and beat, tool server, sandbox cluster, scripted LLM; driven through the HTTP API and
the WebSocket only (the expiry test moves the approval's deadline into the past instead of waiting 30 minutes).
"""

import pytest
from django.utils import timezone

from tests.scripted_llm import call, plan, say, verdict
from workflows.models import Approval, ToolCall

pytestmark = pytest.mark.e2e


def scale_script(ns: str, replicas: int = 3, answer: str = "Scaled web in shop to 3 replicas; all 3 are ready."):
    return [
        plan([("Scale deployment web to 3 replicas", "k8s_scale"), ("Wait for the rollout", "k8s_rollout_status")]),
        call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": replicas}),
        call("k8s_rollout_status", {"kind": "deployment", "name": "web", "namespace": ns}),
        call("k8s_get", {"kind": "deployment", "name": "web", "namespace": ns}, agent="verifier"),
        verdict(True, "web has 3 ready replicas"),
        say(answer, agent="responder"),
    ]


def test_it_scales_after_approval_and_streams_every_step(shop, live_llm):
    live_llm.set_script(scale_script(shop.namespace))
    with shop.socket() as events:
        posted = shop.ask("scale web in shop to 3 replicas")
        run_id = posted["run"]["id"]
        assert posted["run"]["status"] == "queued"
        assert posted["message"]["content"] == "scale web in shop to 3 replicas"

        events.until("run.queued")
        events.until("run.started")
        steps = events.until("plan.created")["data"]["steps"]
        assert [s["tool"] for s in steps] == ["k8s_scale", "k8s_rollout_status"]
        requested = events.until("approval.requested")["data"]
        assert requested["tool"] == "k8s_scale"
        assert requested["args"]["replicas"] == 3
        assert "replicas: 3" in requested["preview"]
        assert shop.replicas() == (1, 1)  # nothing changed before the approval
        assert shop.run(run_id)["status"] == "awaiting_approval"
        assert [a["id"] for a in shop.run(run_id)["pending_approvals"]] == [requested["approval_id"]]

        response = shop.decide(requested["approval_id"], "approve", user=shop.operator2, reason="sale today")
        assert response.status_code == 200, response.text
        assert response.json()["decision"] == "approved"

        resolved = events.until("approval.resolved")["data"]
        assert resolved == {
            "approval_id": requested["approval_id"],
            "decision": "approve",
            "by": str(shop.operator2.id),
            "reason": "sale today",
            "source": "browser",
        }
        scale_call = events.until("tool.call", lambda f: f["data"]["tool"] == "k8s_scale")["data"]
        assert scale_call["mutating"] is True
        events.until("tool.output", lambda f: f["data"]["call_id"] == scale_call["call_id"])
        result = events.until("tool.result", lambda f: f["data"]["call_id"] == scale_call["call_id"])["data"]
        assert result["ok"] is True
        assert "scaled" in result["output"]
        assert events.until("verification.result")["data"]["passed"] is True
        events.until("message.delta", lambda f: f["data"]["agent"] == "responder")
        completed = events.until("message.completed", lambda f: f["data"]["message"]["agent"] == "responder")
        assert completed["data"]["message"]["content"] == "Scaled web in shop to 3 replicas; all 3 are ready."
        finished = events.until("run.finished")["data"]
    assert finished["status"] == "succeeded"
    assert finished["usage"]["prompt_tokens"] > 0
    seqs = [frame["seq"] for frame in events.frames]
    assert seqs == sorted(seqs)
    assert shop.replicas() == (3, 3)
    run = shop.run(run_id)
    assert run["status"] == "succeeded"
    assert run["pending_approvals"] == []
    assert run["usage"]["completion_tokens"] > 0
    assert ToolCall.objects.filter(run_id=run_id, tool="k8s_scale", state="succeeded").count() == 1


def test_it_leaves_the_cluster_alone_when_denied_and_says_so(shop, live_llm):
    answer = "I did not scale web: the change was denied (not today)."
    live_llm.set_script(scale_script(shop.namespace, answer=answer)[:2] + [say(answer, agent="responder")])
    with shop.socket() as events:
        run_id = shop.ask("scale web in shop to 3 replicas")["run"]["id"]
        requested = events.until("approval.requested")["data"]
        response = shop.decide(requested["approval_id"], "deny", user=shop.operator2, reason="not today")
        assert response.status_code == 200, response.text
        assert events.until("approval.resolved")["data"]["decision"] == "deny"
        assert events.until("message.completed")["data"]["message"]["content"] == answer
        assert events.until("run.finished")["data"]["status"] == "denied"
    assert "tool.call" not in [f["type"] for f in events.frames if f["data"].get("tool") == "k8s_scale"]
    assert shop.replicas() == (1, 1)
    assert shop.run(run_id)["status"] == "denied"
    assert not ToolCall.objects.filter(run_id=run_id, tool="k8s_scale").exists()
    responder_prompt = live_llm.requests()[-1]["messages"][-1]["content"]
    assert "NOT DONE" in responder_prompt
    again = shop.decide(requested["approval_id"], "approve", user=shop.operator2)
    assert again.status_code == 409


def test_it_denies_the_run_when_the_approval_expires(shop, live_llm):
    answer = "Nothing was changed: nobody approved scaling web in time."
    live_llm.set_script(scale_script(shop.namespace)[:2] + [say(answer, agent="responder")])
    with shop.socket() as events:
        run_id = shop.ask("scale web in shop to 3 replicas")["run"]["id"]
        requested = events.until("approval.requested")["data"]
        # Time travel instead of waiting APPROVAL_TTL: the deadline is now in the past; beat expires it.
        Approval.objects.filter(pk=requested["approval_id"]).update(expires_at=timezone.now())
        resolved = events.until("approval.resolved", timeout=30)["data"]
        assert resolved["decision"] == "expired"
        assert resolved["by"] is None
        assert events.until("run.finished")["data"]["status"] == "denied"
    assert shop.replicas() == (1, 1)
    assert shop.run(run_id)["status"] == "denied"
    assert Approval.objects.get(pk=requested["approval_id"]).decision == "expired"
    late = shop.decide(requested["approval_id"], "approve", user=shop.operator2)
    assert late.status_code == 409
