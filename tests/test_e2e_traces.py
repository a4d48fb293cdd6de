"""Traces of a real run (OTEL_EXPORTER_OTLP_ENDPOINT set): daphne, the Celery worker and the tool server export
over OTLP/HTTP to a receiver in the test. One run — posted, parked at an approval, resumed by another task after
the decision — is one connected trace from the POST through the worker's model requests and tool calls into the
tool server's kubectl, and no span carries a secret or the prompt."""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from mcp_server.testing import run_toolserver
from tests.live import extra_stack, shop_make
from tests.otlp_receiver import ReceivedSpan, otlp_receiver
from tests.scripted_llm import call, plan, say, verdict

pytestmark = pytest.mark.e2e

EXPORT_SOON = {"OTEL_BSP_SCHEDULE_DELAY": "100"}  # ms between batches: the test waits for spans, not for 5 s


@pytest.fixture
def traced(live_db, live_llm, sandbox_cluster):
    api_key = f"sk-canary{secrets.token_hex(12)}"
    with otlp_receiver() as receiver:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, **EXPORT_SOON}
        with (
            extra_stack(live_llm.base_url, LLM_API_KEY=api_key, **otel) as stack,
            run_toolserver({**sandbox_cluster.env, **otel}) as toolserver,
        ):
            shop = shop_make(stack, toolserver, sandbox_cluster)
            yield shop, receiver, [api_key, toolserver.token]


def secret_yaml(name: str, namespace: str, value: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": {"password": value},
        }
    )


def of_run(spans: list[ReceivedSpan], run_id: str) -> list[ReceivedSpan]:
    """The spans of the trace that the worker's run spans (attribute skyflo.run.id) belong to."""
    traces = {s.trace_id for s in spans if s.attributes.get("skyflo.run.id") == run_id}
    shown = [(s.service, s.name, s.trace_id[:8]) for s in spans if s.trace_id in traces and s.service != "skyflo-web"]
    assert len(traces) <= 1, f"the run's spans are in {len(traces)} traces: {shown}"
    return [s for s in spans if s.trace_id in traces]


def named(spans: list[ReceivedSpan], name: str, service: str | None = None) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == name and (service is None or s.service == service)]


def ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    chain = []
    while span.parent_span_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


def test_a_run_across_an_approval_is_one_trace_from_the_post_to_kubectl(traced, live_llm):
    shop, receiver, known_secrets = traced
    ns, canary = shop.namespace, f"canary-{secrets.token_hex(12)}"
    prompt_marker = f"prompt-{secrets.token_hex(8)}"
    shop.sandbox.kubectl("apply", "-f", "-", input=secret_yaml("db-credentials", ns, canary))
    live_llm.set_script(
        [
            plan([("Read the db-credentials secret", "k8s_get"), ("Scale web to 2 replicas", "k8s_scale")]),
            call("k8s_get", {"kind": "secret", "name": "db-credentials", "namespace": ns, "output": "yaml"}),
            call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 2}),
            call("k8s_get", {"kind": "deployment", "name": "web", "namespace": ns}, agent="verifier"),
            verdict(True, "web has 2 replicas"),
            say("Scaled web to 2 replicas.", agent="responder"),
        ]
    )

    with shop.socket() as events:
        run_id = shop.ask(f"read db-credentials, then scale web to 2 ({prompt_marker})")["run"]["id"]
        approval_id = events.until("approval.requested")["data"]["approval_id"]
        assert shop.decide(approval_id, "approve", user=shop.operator2).status_code == 200
        assert events.until("run.finished")["data"]["status"] == "succeeded"
    invitation = f"invite-{secrets.token_hex(12)}"  # a token in a URL path, as invitation links carry one
    with shop.client(shop.viewer) as client:
        assert client.post(f"/invitations/{invitation}/accept/?next={invitation}").status_code in (400, 404)

    def complete(spans: list[ReceivedSpan]) -> bool:
        run = of_run(spans, run_id)
        names = {(s.service, s.name) for s in run}
        expected = {("skyflo-worker", "run execute"), ("skyflo-worker", "run resume")}
        expected |= {("skyflo-toolserver", "tools/call k8s_scale"), ("skyflo-toolserver", "kubectl scale")}
        web = [s for s in spans if s.kind == "server" and s.service == "skyflo-web"]
        invited = any("invitations" in str(s.attributes.get("http.route")) for s in web)
        return expected <= names and invited and any(s in web for s in run)

    spans = receiver.wait_for(complete)
    run = of_run(spans, run_id)
    by_id = {s.span_id: s for s in run}

    # One connected trace: its only root is the web's POST, every other span's parent is in it.
    roots = [s for s in run if not s.parent_span_id]
    assert [
        (r.service, r.kind, r.attributes.get("http.request.method", r.attributes.get("http.method"))) for r in roots
    ] == [("skyflo-web", "server", "POST")]
    assert all(s.parent_span_id in by_id for s in run if s.parent_span_id)
    assert {"skyflo-web", "skyflo-worker", "skyflo-toolserver"} <= {s.service for s in run}

    # The resume (another Celery task, after the decision) continues the same trace under the POST.
    execute, resume = named(run, "run execute")[0], named(run, "run resume")[0]
    assert roots[0] in ancestors(execute, by_id)
    assert roots[0] in ancestors(resume, by_id)

    # Each model request is a span with the model, tokens and outcome.
    llm = named(run, "chat scripted-model", "skyflo-worker")
    assert {span.attributes["skyflo.outcome"] for span in llm} <= {"ok", "error"}  # error: the title, unscripted
    answered = [span for span in llm if span.attributes["skyflo.outcome"] == "ok"]
    assert len(answered) >= 5
    for span in answered:
        assert span.attributes["gen_ai.request.model"] == "scripted-model"
        assert span.attributes["gen_ai.usage.input_tokens"] > 0
        assert span.attributes["gen_ai.usage.output_tokens"] > 0
    assert any(resume in ancestors(span, by_id) for span in answered)

    # The tool server's tools/call is a child of the worker's MCP request; kubectl runs under it.
    for tool, command in (("k8s_get", "kubectl get"), ("k8s_scale", "kubectl scale")):
        served = named(run, f"tools/call {tool}", "skyflo-toolserver")
        assert served, tool
        assert by_id[served[0].parent_span_id].service == "skyflo-worker"
        assert by_id[served[0].parent_span_id].name == f"MCP send tools/call {tool}"
        process = [s for s in named(run, command, "skyflo-toolserver") if s.parent_span_id == served[0].span_id]
        assert process
        assert process[0].attributes["process.exit.code"] == 0
    scale = named(run, "tools/call k8s_scale", "skyflo-toolserver")[0]
    assert resume in ancestors(scale, by_id)

    # No span of any process carries a secret, the Secret's value or the prompt.
    forbidden = [*known_secrets, canary, base64.b64encode(canary.encode()).decode(), prompt_marker, invitation]
    for span in receiver.received():
        for text in span.texts:
            assert not any(value in text for value in forbidden), (span.service, span.name, text)
