"""Logs of a real run (SKYFLO_LOG_FORMAT=json): one JSON object per line with the run, conversation, org and user
where known, in web, worker and tool server — and a Secret's value read by the agent appears in none of them."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest

from mcp_server.testing import run_toolserver
from tests.live import extra_stack, shop_make
from tests.scripted_llm import call, plan, say, verdict

pytestmark = pytest.mark.e2e


def json_lines(text: str) -> list[dict]:
    """The log's JSON lines (Celery's start-up banner, printed before logging starts, is not one)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def secret_yaml(name: str, namespace: str, value: str) -> str:
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "stringData": {"password": value, "url": f"postgres://app:{value}@db:5432/app"},
    }
    return json.dumps(manifest)


@pytest.fixture
def logged(live_db, live_llm, sandbox_cluster):
    with (
        extra_stack(live_llm.base_url, SKYFLO_LOG_FORMAT="json", SKYFLO_LOG_LEVEL="DEBUG") as stack,
        run_toolserver({**sandbox_cluster.env, "SKYFLO_LOG_FORMAT": "json"}) as toolserver,
    ):
        shop = shop_make(stack, toolserver, sandbox_cluster)
        # The tool server writes its log to a file of the test harness: read it through the process's stdout.
        yield shop, Path(f"/proc/{toolserver.process.pid}/fd/1")


def test_a_run_logs_json_lines_with_its_context_and_no_secret(logged, live_llm):
    shop, toolserver_log = logged
    ns, canary = shop.namespace, f"canary-{secrets.token_hex(12)}"
    shop.sandbox.kubectl("apply", "-f", "-", input=secret_yaml("db-credentials", ns, canary))
    secret = {"kind": "secret", "name": "db-credentials", "namespace": ns}
    live_llm.set_script(
        [
            plan([("Read the db-credentials secret", "k8s_get"), ("Describe it", "k8s_describe")]),
            call("k8s_get", {**secret, "output": "yaml"}),
            call("k8s_describe", secret),
            call("k8s_get", {**secret, "output": "json"}, agent="verifier"),
            verdict(True, "the secret exists"),
            say("db-credentials holds a password and a url.", agent="responder"),
        ]
    )

    with shop.socket() as events:
        run_id = shop.ask("show me the db-credentials secret")["run"]["id"]
        assert events.until("run.finished")["data"]["status"] == "succeeded"
        web_lines = json_lines(shop.stack.web.log())
        tool_lines = json_lines(toolserver_log.read_text(errors="replace"))
    worker_lines = json_lines(shop.stack.worker.log())

    logs = shop.stack.web.log() + shop.stack.worker.log() + toolserver_log.read_text(errors="replace")
    for form in (canary, base64.b64encode(canary.encode()).decode()):
        assert form not in logs
        assert form not in json.dumps(events.frames)
    run_lines = [line for line in worker_lines if line.get("run") == run_id]
    assert {"run.started", "tool.call", "tool.result", "run.finished"} <= {line.get("event") for line in run_lines}
    finished = next(line for line in run_lines if line.get("event") == "run.finished")
    assert finished["conversation"] == shop.conversation_id
    assert finished["org"] == shop.org.slug
    assert finished["user"] == str(shop.operator.pk)
    assert {"ts", "level", "logger", "message"} <= set(finished)
    posted = [line for line in web_lines if line.get("event") == "http.request" and line["status"] == 202]
    assert posted[0]["user"] == str(shop.operator.pk)
    assert posted[0]["message"].startswith("POST /api/v1/conversations/<uuid:")  # the route, not the raw path
    assert posted[0]["message"].endswith("/messages/ 202")
    calls = {(line["tool"], line["outcome"]) for line in tool_lines if line.get("event") == "tool.call"}
    assert {("k8s_get", "ok"), ("k8s_describe", "ok")} <= calls
