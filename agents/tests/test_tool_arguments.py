"""Tool-call arguments are validated against the tool's inputSchema: invalid JSON or a schema violation goes back to
the model as that call's error (at most two corrections), and never reaches the tool server."""

from __future__ import annotations

import pytest

from agents.tests.conftest import GraphRun, create_deployment, deployment_replicas
from tests.scripted_llm import call, plan, request_agent, say, verdict


@pytest.fixture
def web(sandbox_cluster, k8s_namespace) -> str:
    create_deployment(sandbox_cluster, "web", k8s_namespace)
    return k8s_namespace


def tool_messages(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


async def test_it_sends_a_schema_violation_back_and_asks_approval_for_the_corrected_call(
    scripted_llm, make_context, graph_run: GraphRun, sandbox_cluster, web
):
    target = {"kind": "deployment", "name": "web", "namespace": web}
    scripted_llm.set_script(
        [
            plan([("Scale web to 3", "k8s_scale")]),
            call("k8s_scale", {**target, "replicas": "three"}),
            call("k8s_scale", {**target, "replicas": 3}),
        ]
    )
    ctx = make_context(f"scale web in {web} to 3", namespace=web)

    result = await graph_run.start(ctx)

    assert result["__interrupt__"][0].value["args"] == {**target, "replicas": 3}
    correction = tool_messages(scripted_llm.requests()[2])
    assert len(correction) == 1
    assert "replicas: 'three' is not of type 'integer'" in correction[0]
    assert "NOT run" in correction[0]
    assert ctx.of_type("tool.call") == []  # only the approval preview (k8s_diff, not a step call) ran
    assert deployment_replicas(sandbox_cluster, "web", web) == 1


async def test_it_sends_arguments_that_are_not_json_back_to_the_model(
    scripted_llm, make_context, graph_run: GraphRun, web
):
    target = {"kind": "deployment", "name": "web", "namespace": web}
    scripted_llm.set_script(
        [
            plan([("Show web", "k8s_get")]),
            call("k8s_get", '{"kind": "deployment", "name": "web", '),
            call("k8s_get", target),
            call("k8s_get", target, agent="verifier"),
            verdict(True, "web is there"),
            say("web is there.", agent="responder"),
        ]
    )
    ctx = make_context(f"show web in {web}", namespace=web)

    result = await graph_run.start(ctx)

    assert result["outcome"] == "succeeded"
    assert "not valid JSON" in tool_messages(scripted_llm.requests()[2])[0]
    executed = [c["args"] for c in ctx.of_type("tool.call") if c["call_id"].endswith(":s1:1")]
    assert executed == [target]


async def test_it_refuses_a_call_still_invalid_after_two_corrections(
    scripted_llm, make_context, graph_run: GraphRun, sandbox_cluster, web
):
    bad = {"kind": "deployment", "name": "web", "namespace": web}  # replicas missing, three times
    scripted_llm.set_script(
        [
            plan([("Scale web to 3", "k8s_scale")]),
            call("k8s_scale", bad),
            call("k8s_scale", bad),
            call("k8s_scale", bad),
            verdict(False, "web still has 1 replica"),
            say("I could not scale web.", agent="responder"),
        ]
    )
    ctx = make_context(f"scale web in {web} to 3", namespace=web, max_replans=0)

    result = await graph_run.start(ctx)

    assert "__interrupt__" not in result
    assert result["outcome"] == "failed"
    assert [r["tool"] for r in result["refused"]] == ["k8s_scale"]
    assert "'replicas' is a required property" in result["refused"][0]["reason"]
    assert ctx.of_type("tool.call") == []
    assert ctx.ledger == {}
    assert len([r for r in scripted_llm.requests() if request_agent(r) == "executor"]) == 1 + 2  # two corrections
    assert deployment_replicas(sandbox_cluster, "web", web) == 1


async def test_it_does_not_run_an_invalid_discovery_call(scripted_llm, make_context, graph_run: GraphRun, web):
    scripted_llm.set_script(
        [
            call("k8s_get", {"kind": "deployment", "name": 7}, agent="planner"),
            plan([]),
            say("Nothing to do.", agent="responder"),
        ]
    )
    ctx = make_context(f"what runs in {web}?", namespace=web)

    await graph_run.start(ctx)

    assert ctx.of_type("tool.call") == []
    assert "name: 7 is not valid under any of the given schemas" in tool_messages(scripted_llm.requests()[1])[0]
