"""Who may change the cluster: viewers and read-only clusters never reach a mutating call; four eyes."""

import pytest

from tests.live import shop_make
from tests.scripted_llm import call, plan, say
from workflows.models import Approval, ToolCall

pytestmark = pytest.mark.e2e


def scale_turns(ns: str, answer: str) -> list[dict]:
    return [
        plan([("Scale deployment web to 3 replicas", "k8s_scale")]),
        call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 3}),
        say(answer, agent="responder"),
    ]


def executor_tool_names(live_llm) -> set[str]:
    requests = [r for r in live_llm.requests() if "agent: executor" in str(r["messages"][0].get("content"))]
    return {tool["function"]["name"] for r in requests for tool in r.get("tools") or []}


def test_it_refuses_a_viewers_change_before_the_tool_server(shop, live_llm):
    live_llm.set_script(scale_turns(shop.namespace, "You may not change this cluster; nothing was scaled."))
    with shop.socket(shop.viewer) as events:
        run_id = shop.ask("scale web in shop to 3 replicas", user=shop.viewer)["run"]["id"]
        finished = events.until("run.finished")["data"]
    assert finished["status"] == "failed"
    assert "approval.requested" not in events.types()
    assert not [f for f in events.of("tool.call") if f["data"]["tool"] == "k8s_scale"]
    assert events.of("step.finished")[0]["data"]["status"] == "refused"
    assert not ToolCall.objects.filter(run_id=run_id).exists()
    assert not Approval.objects.filter(run_id=run_id).exists()
    assert "k8s_scale" not in executor_tool_names(live_llm)  # the model was not even offered it
    assert shop.replicas() == (1, 1)


@pytest.fixture
def read_only_shop(live_db, live_stack, toolserver_factory, sandbox_cluster):
    server = toolserver_factory(read_only=True)
    shop = shop_make(live_stack, server, sandbox_cluster)
    shop.cluster.read_only = True
    shop.cluster.save(update_fields=["read_only"])
    return shop


def test_it_never_sends_a_mutating_call_to_a_read_only_cluster(read_only_shop, live_llm):
    shop = read_only_shop
    live_llm.set_script(scale_turns(shop.namespace, "This cluster is read-only; nothing was changed."))
    with shop.socket(shop.operator) as events:
        run_id = shop.ask("scale web in shop to 3 replicas")["run"]["id"]
        assert events.until("run.finished")["data"]["status"] == "failed"
    assert "approval.requested" not in events.types()
    assert not events.of("tool.call")
    assert not ToolCall.objects.filter(run_id=run_id).exists()
    assert "k8s_scale" not in executor_tool_names(live_llm)
    assert shop.replicas() == (1, 1)


@pytest.fixture
def four_eyes_shop(live_db, live_stack, toolserver, sandbox_cluster):
    return shop_make(live_stack, toolserver, sandbox_cluster, four_eyes=True)


def test_it_needs_a_second_person_to_approve_with_four_eyes(four_eyes_shop, live_llm):
    shop = four_eyes_shop
    live_llm.set_script(scale_turns(shop.namespace, "Scaled web to 3 replicas."))
    with shop.socket() as events:
        run_id = shop.ask("scale web in shop to 3 replicas", user=shop.operator)["run"]["id"]
        approval_id = events.until("approval.requested")["data"]["approval_id"]

        own = shop.decide(approval_id, "approve", user=shop.operator)
        assert own.status_code == 403, own.text
        assert Approval.objects.get(pk=approval_id).decision == "pending"
        viewer = shop.decide(approval_id, "approve", user=shop.viewer)
        assert viewer.status_code == 403, viewer.text
        assert shop.replicas() == (1, 1)

        other = shop.decide(approval_id, "approve", user=shop.operator2)
        assert other.status_code == 200, other.text
        assert events.until("run.finished")["data"]["status"] in {"succeeded", "failed"}
    approval = Approval.objects.get(pk=approval_id)
    assert approval.decided_by_id == shop.operator2.id
    assert ToolCall.objects.get(run_id=run_id, tool="k8s_scale").state == "succeeded"
    assert shop.replicas()[0] == 3
