"""A model that reads only the schemas a request carries (tests/schema_llm.py) finishes a whole run: plan, approval,
execution, verification, answer — also on an endpoint that refuses json_schema (then json_object)."""

from __future__ import annotations

import pytest

from agents.llm import LLMClient
from agents.tests.conftest import GraphRun, RecordingContext, create_deployment, deployment_replicas
from agents.tool_policy import ToolPolicy
from tests.schema_llm import goal


@pytest.fixture
def web(sandbox_cluster, k8s_namespace) -> str:
    create_deployment(sandbox_cluster, "web", k8s_namespace)
    return k8s_namespace


@pytest.fixture
async def schema_context(schema_llm, tool_session):
    clients: list[LLMClient] = []

    def make(request: str, namespace: str) -> RecordingContext:
        clients.append(LLMClient(base_url=schema_llm.base_url, api_key="k", model="schema-only", backoff_s=0.01))
        policy = ToolPolicy(tool_session.tools, can_request_changes=True, cluster_read_only=False)
        return RecordingContext(
            llm=clients[-1], tools=tool_session, policy=policy, user_request=request, default_namespace=namespace
        )

    yield make
    for client in clients:
        await client.aclose()


@pytest.mark.parametrize("refuse", [[], ["json_schema"], ["json_schema", "json_object"]])
async def test_a_schema_only_model_scales_after_approval(schema_llm, schema_context, sandbox_cluster, web, refuse):
    target = {"kind": "deployment", "name": "web", "namespace": web}
    schema_llm.configure(
        goals=[goal("k8s_scale", {**target, "replicas": 3}), goal("k8s_get", target)],
        answer="Scaled web to 3 replicas.",
        text="Scale web to 3 replicas",
        refuse=refuse,
    )
    ctx, run = schema_context(f"scale web in {web} to 3", web), GraphRun()

    parked = await run.start(ctx)
    assert parked["__interrupt__"][0].value["args"] == {**target, "replicas": 3}
    assert deployment_replicas(sandbox_cluster, "web", web) == 1
    finished = await run.resume(ctx, "approve")

    assert finished["outcome"] == "succeeded"
    assert ctx.of_type("plan.created")[0]["steps"][0]["tool"] == "k8s_scale"
    assert ctx.of_type("verification.result")[0]["passed"] is True
    assert ctx.messages[-1] == {"agent": "responder", "text": "Scaled web to 3 replicas."}
    assert deployment_replicas(sandbox_cluster, "web", web) == 3
    assert schema_llm.reached() == 2
    # What a refusal costs: one request per refused format, once per endpoint and model.
    sent = [r.get("response_format", {}).get("type") for r in schema_llm.requests()]
    assert sent.count("json_schema") == (1 if refuse else 3)
    assert len(sent) == 5 + len(refuse)  # planner, executor, verifier (a call, then its verdict), responder
