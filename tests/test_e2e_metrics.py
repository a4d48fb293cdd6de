"""/metrics of web, worker and tool server after a real run (daphne, Celery worker, tool server, sandbox, scripted
LLM), scraped as Prometheus would, with the metrics token — and refused without it."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mcp_server.testing import run_toolserver
from tests.live import extra_stack, free_port, shop_make
from tests.scripted_llm import fail
from tests.test_e2e_scale import scale_script

pytestmark = pytest.mark.e2e
SAMPLES = Path(__file__).resolve().parent.parent / "test-artifacts" / "metrics"  # git-ignored; kept for reading


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted label pairs): value} of a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def scrape(url: str, token: str, keep_as: str | None = None) -> dict[tuple[str, tuple], float]:
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    if keep_as:
        SAMPLES.mkdir(parents=True, exist_ok=True)
        (SAMPLES / f"{keep_as}.txt").write_text(response.text)
    return samples(response.text)


@pytest.fixture
def metered(live_db, live_llm, sandbox_cluster):
    """A stack and a tool server with metrics on (the worker's on its own port)."""
    token, worker_port = secrets.token_urlsafe(24), free_port()
    metrics = {"SKYFLO_METRICS_TOKEN": token, "SKYFLO_METRICS_PORT": str(worker_port)}
    with (
        extra_stack(live_llm.base_url, **metrics) as stack,
        run_toolserver({**sandbox_cluster.env, "SKYFLO_METRICS_TOKEN": token}) as toolserver,
    ):
        shop = shop_make(stack, toolserver, sandbox_cluster)
        urls = {
            "web": f"{stack.url}/metrics",
            "worker": f"http://127.0.0.1:{worker_port}/metrics",
            "toolserver": f"http://127.0.0.1:{toolserver.port}/metrics",
        }
        yield shop, urls, token


def test_a_run_shows_up_in_the_metrics_of_every_process(metered, live_llm):
    shop, urls, token = metered
    live_llm.set_script(scale_script(shop.namespace))

    with shop.socket() as events:
        shop.ask("scale web in shop to 3 replicas")
        approval = events.until("approval.requested")["data"]
        waiting = scrape(urls["web"], token)
        assert shop.decide(approval["approval_id"], "approve", user=shop.operator2).status_code == 200
        assert events.until("run.finished")["data"]["status"] == "succeeded"
        web = scrape(urls["web"], token, keep_as="web")

    assert waiting[("skyflo_approvals_pending", ())] >= 1
    assert web[("skyflo_websockets_open", ())] == 1
    assert web[("skyflo_event_relay_lag_seconds_count", ())] >= 1  # live frames (replayed ones are not relayed)
    assert web[("skyflo_approval_decision_seconds_count", (("decision", "approve"),))] == 1

    worker = scrape(urls["worker"], token, keep_as="worker")
    assert worker[("skyflo_runs_finished_total", (("status", "succeeded"),))] == 1
    assert worker[("skyflo_run_duration_seconds_count", (("status", "succeeded"),))] == 1
    assert worker[("skyflo_run_duration_seconds_sum", (("status", "succeeded"),))] > 0
    assert worker[("skyflo_llm_requests_total", (("outcome", "ok"),))] >= 5  # planner, executor ×2, verifier, responder
    assert worker[("skyflo_llm_time_to_first_token_seconds_count", ())] >= 1
    assert worker[("skyflo_llm_tokens_total", (("direction", "in"),))] > 0
    assert worker[("skyflo_llm_tokens_total", (("direction", "out"),))] > 0
    scaled = (("outcome", "ok"), ("tool", "k8s_scale"))
    assert worker[("skyflo_tool_calls_total", scaled)] == 1
    assert worker[("skyflo_tool_call_duration_seconds_count", (("tool", "k8s_scale"),))] == 1

    toolserver = scrape(urls["toolserver"], token, keep_as="toolserver")
    assert toolserver[("skyflo_toolserver_tool_calls_total", scaled)] == 1
    assert toolserver[("skyflo_toolserver_tool_call_duration_seconds_count", (("tool", "k8s_scale"),))] == 1


def test_a_failed_run_counts_its_error_code(metered, live_llm):
    shop, urls, token = metered
    live_llm.set_script([fail(400, agent="planner")])

    with shop.socket() as events:
        shop.ask("what is running in shop?")
        code = events.until("run.error")["data"]["code"]
        assert events.until("run.finished")["data"]["status"] == "failed"

    worker = scrape(urls["worker"], token)
    assert worker[("skyflo_run_errors_total", (("code", code),))] == 1
    assert worker[("skyflo_runs_finished_total", (("status", "failed"),))] == 1
    assert worker[("skyflo_llm_requests_total", (("outcome", "error"),))] >= 1
    if code.startswith("llm_"):
        assert worker[("skyflo_llm_errors_total", (("code", code),))] == 1


def test_metrics_are_refused_without_the_token(metered):
    _, urls, token = metered

    for process, url in urls.items():
        anonymous = httpx.get(url, timeout=10)
        wrong = httpx.get(url, headers={"Authorization": "Bearer not-the-token-at-all"}, timeout=10)
        query = httpx.get(f"{url}?token={token}", timeout=10)
        for response in (anonymous, wrong, query):
            assert response.status_code in (401, 404), process
            assert "skyflo_" not in response.text, process
