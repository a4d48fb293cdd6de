"""A failed verification re-plans with the verifier's findings; the second round passes."""

from __future__ import annotations

from agents.tests.conftest import GraphRun, create_deployment, deployment_replicas
from tests.scripted_llm import call, plan, say, verdict


async def test_it_replans_after_a_failed_verification(scripted_llm, make_context, sandbox_cluster, k8s_namespace):
    ns = k8s_namespace
    create_deployment(sandbox_cluster, "web", ns)
    target = {"kind": "deployment", "name": "web", "namespace": ns}
    scripted_llm.set_script(
        [
            plan([("Scale web to 2 replicas", "k8s_scale")]),
            call("k8s_scale", {**target, "replicas": 2}),
            call("k8s_get", target, agent="verifier"),
            verdict(False, "web has 2 replicas, the request asked for 3"),
            plan([("Scale web to 3 replicas", "k8s_scale")], contains="web has 2 replicas, the request asked for 3"),
            call("k8s_scale", {**target, "replicas": 3}),
            call("k8s_get", target, agent="verifier"),
            verdict(True, "web has 3 replicas"),
            say("web now runs 3 replicas (the first attempt scaled to 2; fixed).", agent="responder"),
        ]
    )
    ctx = make_context(f"scale web in {ns} to 3 replicas", namespace=ns)
    run = GraphRun()

    first = await run.start(ctx)
    assert first["__interrupt__"][0].value["args"]["replicas"] == 2
    second = await run.resume(ctx, "approve")
    assert second["__interrupt__"][0].value["args"]["replicas"] == 3
    assert second["__interrupt__"][0].value["call_id"] == f"{ctx.run_id}:1:s1:1"
    result = await run.resume(ctx, "approve")

    assert result["outcome"] == "succeeded"
    assert [v["passed"] for v in ctx.of_type("verification.result")] == [False, True]
    assert len(ctx.of_type("plan.created")) == 2
    assert deployment_replicas(sandbox_cluster, "web", ns) == 3
    assert scripted_llm.remaining() == []


async def test_it_stops_replanning_after_max_rounds(scripted_llm, make_context, sandbox_cluster, k8s_namespace):
    ns = k8s_namespace
    create_deployment(sandbox_cluster, "web", ns)
    target = {"kind": "deployment", "name": "web", "namespace": ns}
    rounds = []
    for _ in range(2):  # the first round and one re-plan (max_replans=1)
        rounds += [
            plan([("Read web", "k8s_get")]),
            call("k8s_get", target),
            verdict(False, "web is not healthy"),
        ]
    scripted_llm.set_script([*rounds, say("I could not make web healthy.", agent="responder")])
    ctx = make_context(f"make web in {ns} healthy", namespace=ns, max_replans=1)

    result = await GraphRun().start(ctx)

    assert result["outcome"] == "failed"
    assert [v["passed"] for v in ctx.of_type("verification.result")] == [False, False]
    assert ctx.messages[-1]["text"] == "I could not make web healthy."
