"""A failed run tells the person what happened and what to do, with a stable code; never an exception repr, a
stack trace or an internal address (issue 13 item 24). Real daphne, worker, tool server; the model endpoint is the
scripted server answering as a failing provider would."""

import json

import pytest

from orgs.models import ClusterConnection
from tests.scripted_llm import fail, plan, request_agent, say
from workflows.models import Run

pytestmark = pytest.mark.e2e

LEAKS = ("127.0.0.1", "localhost", "Traceback", "Error(", "Exception", "scripted failure", "http://", "/mcp")


def failed_run(shop, content: str = "scale web in shop to 3 replicas") -> tuple[dict, Run]:
    with shop.socket() as events:
        run_id = shop.ask(content)["run"]["id"]
        error = events.until("run.error")["data"]
        assert events.until("run.finished")["data"]["status"] == "failed"
    return error, Run.objects.get(pk=run_id)


def assert_readable(error: dict, run: Run, code: str) -> None:
    assert error["code"] == code
    assert (run.error_code, run.error_detail) == (code, error["detail"])
    assert error["detail"].endswith(".")
    for leak in LEAKS:
        assert leak not in error["detail"]


def test_it_says_the_model_endpoint_is_unreachable(shop, live_llm):
    live_llm.set_script([fail(502, agent="planner", message="upstream 10.0.3.7:8000 connect failed")] * 4)

    error, run = failed_run(shop)

    assert_readable(error, run, "llm_unreachable")
    assert "model connection" in error["detail"]
    assert shop.replicas() == (1, 1)


def test_it_says_the_model_endpoint_is_rate_limiting(shop, live_llm):
    live_llm.set_script(
        [fail(429, agent="planner", message="Rate limit reached for requests", headers={"retry-after": "3600"})]
    )

    error, run = failed_run(shop)

    assert_readable(error, run, "llm_rate_limited")
    planner_requests = [r for r in live_llm.requests() if request_agent(r) == "planner"]
    assert len(planner_requests) == 1  # an hour's Retry-After fails the run now instead of holding it


def test_it_says_the_model_did_not_answer_in_the_format(shop, live_llm):
    live_llm.set_script([say("I would scale it.", agent="planner"), say('{"steps": "web"}', agent="planner")])

    error, run = failed_run(shop)

    assert_readable(error, run, "llm_bad_output")


def test_it_says_the_tool_server_is_unreachable(shop, live_llm):
    ClusterConnection.objects.filter(pk=shop.cluster.pk).update(mcp_server_url="http://127.0.0.1:9/mcp")
    live_llm.set_script([say("unused", repeat=True)])

    error, run = failed_run(shop)

    assert_readable(error, run, "tool_server_unreachable")
    assert "cluster connection" in error["detail"]


def test_database_error_text_never_reaches_the_person(shop, live_llm):
    # PostgreSQL refuses NUL in text: whatever the product does with it (clean it, or fail the run), the person sees
    # neither SQL nor driver text (issue 13 item 24).
    live_llm.set_script([{**plan([]), "repeat": True}, {**say("done\u0000 now", agent="responder"), "repeat": True}])
    with shop.socket() as events:
        shop.ask("say done")
        finished = events.until("run.finished")["data"]
    seen = json.dumps(events.frames) + json.dumps(shop.run(events.frames[-1]["run"]))
    for leak in ("0x00", "NUL", "psycopg", "Traceback", "string literal", "DataError", "ValueError"):
        assert leak not in seen
    if finished["status"] == "failed":
        assert events.of("run.error")[0]["data"]["code"] == "internal"
