"""A mutating call stops at the approval interrupt with a diff preview; approve runs it, deny does not."""

from __future__ import annotations

import pytest

from agents.tests.conftest import GraphRun, create_deployment, deployment_replicas
from tests.scripted_llm import call, plan, say, verdict


@pytest.fixture
def web(sandbox_cluster, k8s_namespace) -> str:
    create_deployment(sandbox_cluster, "web", k8s_namespace)
    return k8s_namespace


def scale_script(namespace: str, replicas: int = 3) -> list[dict]:
    target = {"kind": "deployment", "name": "web", "namespace": namespace}
    return [
        plan([(f"Scale deployment web in {namespace} to {replicas} replicas", "k8s_scale")]),
        call("k8s_scale", {**target, "replicas": replicas}),
        call("k8s_get", target, agent="verifier"),
        verdict(True, f"web has {replicas} replicas"),
        say(f"Scaled web to {replicas} replicas and verified it.", agent="responder"),
    ]


async def test_it_interrupts_before_a_mutating_call_with_a_diff_preview(
    scripted_llm, make_context, graph_run: GraphRun, sandbox_cluster, web
):
    scripted_llm.set_script(scale_script(web))
    ctx = make_context(f"scale web in {web} to 3 replicas", namespace=web)

    result = await graph_run.start(ctx)

    request = result["__interrupt__"][0].value
    assert request["tool"] == "k8s_scale"
    assert request["args"]["replicas"] == 3
    assert "replicas: 1" in request["preview"]
    assert "replicas: 3" in request["preview"]
    assert request["call_id"] == f"{ctx.run_id}:0:s1:1"
    assert ctx.of_type("plan.created") == [
        {
            "steps": [
                {
                    "id": "s1",
                    "title": f"Scale deployment web in {web} to 3 replicas",
                    "tool": "k8s_scale",
                    "mutating": True,
                }
            ]
        }
    ]
    assert not [c for c in ctx.of_type("tool.call") if c["tool"] == "k8s_scale"]
    assert deployment_replicas(sandbox_cluster, "web", web) == 1


async def test_it_runs_the_call_once_approved(scripted_llm, make_context, graph_run: GraphRun, sandbox_cluster, web):
    scripted_llm.set_script(scale_script(web))
    ctx = make_context(f"scale web in {web} to 3 replicas", namespace=web)
    await graph_run.start(ctx)

    result = await graph_run.resume(ctx, "approve", "ok")

    assert result["outcome"] == "succeeded"
    assert deployment_replicas(sandbox_cluster, "web", web) == 3
    scale_call = next(c for c in ctx.of_type("tool.call") if c["tool"] == "k8s_scale")
    assert scale_call["mutating"] is True
    scale_result = next(r for r in ctx.of_type("tool.result") if r["call_id"] == scale_call["call_id"])
    assert scale_result["ok"] is True
    assert "scaled" in scale_result["output"]
    assert [o["chunk"] for o in ctx.of_type("tool.output") if o["call_id"] == scale_call["call_id"]]
    assert ctx.types() == [
        "plan.created",
        "step.started",
        "tool.call",
        "tool.result",
        "step.finished",
        "tool.call",
        "tool.result",
        "verification.result",
        "message.completed",
    ]
    assert ctx.of_type("verification.result")[0]["passed"] is True
    assert ctx.messages == [{"agent": "responder", "text": "Scaled web to 3 replicas and verified it."}]
    assert ctx.ledger[scale_call["call_id"]]["result"]["ok"] is True
    assert all(prompt > 0 and completion > 0 for prompt, completion, _ in ctx.usage)


async def test_it_does_not_run_a_denied_call(scripted_llm, make_context, graph_run: GraphRun, sandbox_cluster, web):
    script = scale_script(web)
    scripted_llm.set_script([*script[:2], say("Nothing was changed: the scale was denied.", agent="responder")])
    ctx = make_context(f"scale web in {web} to 3 replicas", namespace=web)
    await graph_run.start(ctx)

    result = await graph_run.resume(ctx, "deny", "not during the sale")

    assert result["outcome"] == "denied"
    assert deployment_replicas(sandbox_cluster, "web", web) == 1
    assert not [c for c in ctx.of_type("tool.call") if c["tool"] == "k8s_scale"]
    assert ctx.of_type("step.finished") == [{"step_id": "s1", "status": "denied"}]
    assert not ctx.of_type("verification.result")
    responder_prompt = scripted_llm.requests()[-1]["messages"][-1]["content"]
    assert "NOT DONE: k8s_scale" in responder_prompt
    assert "not during the sale" in responder_prompt


async def test_it_never_repeats_a_call_the_ledger_has_finished(
    scripted_llm, make_context, graph_run: GraphRun, sandbox_cluster, web
):
    scripted_llm.set_script(scale_script(web))
    ctx = make_context(f"scale web in {web} to 3 replicas", namespace=web)
    await graph_run.start(ctx)
    await graph_run.resume(ctx, "approve")
    sandbox_cluster.kubectl("scale", "deployment/web", "--replicas=1", "-n", web)

    # The same run again (a retried worker: same run id, so the same call ids, and the same ledger).
    scripted_llm.set_script(scale_script(web))
    retry = make_context(ctx.user_request, namespace=web, run_id=ctx.run_id, ledger=ctx.ledger)
    result = await GraphRun().start(retry)

    assert "__interrupt__" not in result
    assert result["outcome"] == "succeeded"
    assert not [c for c in retry.of_type("tool.call") if c["tool"] == "k8s_scale"]
    assert deployment_replicas(sandbox_cluster, "web", web) == 1
