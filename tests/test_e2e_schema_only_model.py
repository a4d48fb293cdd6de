"""A model that never reads our prompts — only the JSON Schemas and tool schemas a request carries — finishes a
whole run with the real processes: plan, approval, execution, verification, answer, and the conversation's title."""

import time

import pytest

from chats.models import Conversation
from tests.live import extra_stack, shop_make
from tests.schema_llm import goal
from workflows.models import ToolCall

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def schema_stack(live_database, schema_llm_server):
    from tests.llm import SchemaLLMHandle

    handle = SchemaLLMHandle(schema_llm_server.url, "e2e-schema-only")
    with extra_stack(llm_base_url=handle.base_url) as stack:
        yield stack, handle


def test_a_schema_only_model_plans_asks_runs_verifies_and_answers(live_db, schema_stack, toolserver, sandbox_cluster):
    stack, model = schema_stack
    shop = shop_make(stack, toolserver, sandbox_cluster)
    target = {"kind": "deployment", "name": "web", "namespace": shop.namespace}
    model.configure(
        goals=[goal("k8s_scale", {**target, "replicas": 3}), goal("k8s_get", target)],
        answer="Scaled web to 3 replicas; 3 are ready.",
        text="Scale web to 3 replicas",
    )
    with shop.socket() as events:
        run_id = shop.ask("scale web in shop to 3 replicas")["run"]["id"]
        steps = events.until("plan.created")["data"]["steps"]
        assert [(s["title"], s["tool"], s["mutating"]) for s in steps] == [
            ("Scale web to 3 replicas", "k8s_scale", True)
        ]
        requested = events.until("approval.requested")["data"]
        assert requested["args"] == {**target, "replicas": 3}
        assert shop.replicas() == (1, 1)
        assert shop.decide(requested["approval_id"], "approve", user=shop.operator2).status_code == 200
        result = events.until("tool.result", lambda f: f["data"]["call_id"].endswith(":s1:1"))["data"]
        assert result["ok"] is True
        assert events.until("verification.result")["data"]["passed"] is True
        answer = events.until("message.completed", lambda f: f["data"]["message"]["agent"] == "responder")
        assert answer["data"]["message"]["content"] == "Scaled web to 3 replicas; 3 are ready."
        assert events.until("run.finished")["data"]["status"] == "succeeded"
    assert "run.error" not in events.types()
    assert shop.replicas_settled() == (3, 3)
    assert ToolCall.objects.filter(run_id=run_id, tool="k8s_scale", state="succeeded").count() == 1
    assert title_of(shop.conversation_id) == "Scale web to 3 replicas"  # the title comes after run.finished
    formats = [r.get("response_format", {}).get("type") for r in model.requests()]
    assert formats.count("json_schema") == 4  # plan, verifier (twice: a call, then the verdict), title


def title_of(conversation_id: str, within_s: float = 30) -> str:
    deadline = time.monotonic() + within_s
    while not (title := Conversation.objects.get(pk=conversation_id).title) and time.monotonic() < deadline:
        time.sleep(0.1)
    return title
