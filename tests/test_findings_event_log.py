"""Finding 09: a NUL byte in a tool's output neither fails its run nor, through the worker's shared event batch,
another organisation's run; and no SQL error text reaches anyone."""

import json

import pytest

from tests.live import deployment_yaml, shop_make
from tests.scripted_llm import call, plan, say, verdict

pytestmark = pytest.mark.e2e

NUL_LOGS = "starting\nbinary\u0000garbage\u0000here\nlistening on :8080\n"


@pytest.fixture
def two_orgs(live_db, live_stack, toolserver, sandbox_cluster):
    noisy, quiet = (shop_make(live_stack, toolserver, sandbox_cluster) for _ in range(2))
    manifest = deployment_yaml("noisy", annotations={"sandbox.skyflo.dev/logs": NUL_LOGS})
    sandbox_cluster.kubectl("apply", "-n", noisy.namespace, "-f", "-", input=manifest)
    sandbox_cluster.kubectl("rollout", "status", "deployment/noisy", "-n", noisy.namespace, "--timeout=30s")
    return noisy, quiet


def test_finding_09_a_nul_byte_in_tool_output_fails_no_run(two_orgs, live_llm):
    noisy, quiet = two_orgs
    answer = " ".join(f"word{n}" for n in range(40))
    slow = say(answer, agent="responder", contains="QUIET-REQUEST")
    slow["tokens_per_second"] = 20  # still streaming while the other org's run reads the logs
    logs_args = {"kind": "deployment", "name": "noisy", "namespace": noisy.namespace}
    live_llm.set_script(
        [
            plan([], contains="QUIET-REQUEST"),
            slow,
            plan([("Read the logs of noisy", "k8s_logs")], contains="NOISY-REQUEST"),
            call("k8s_logs", logs_args, contains="NOISY-REQUEST"),
            verdict(True, "the logs were read", contains="NOISY-REQUEST"),
            say("Here are the logs.", agent="responder", contains="NOISY-REQUEST"),
        ]
    )
    with quiet.socket() as quiet_events, noisy.socket() as noisy_events:
        quiet.ask("QUIET-REQUEST: tell me a long story")
        quiet_events.until("message.delta")
        noisy.ask("NOISY-REQUEST: show me the logs of noisy")
        noisy_finished = noisy_events.until("run.finished")["data"]
        quiet_finished = quiet_events.until("run.finished")["data"]

    assert noisy_finished["status"] == "succeeded"
    assert quiet_finished["status"] == "succeeded"
    result = noisy_events.of("tool.result")[0]["data"]
    assert result["ok"] is True
    assert "binary\ufffdgarbage\ufffdhere" in result["output"]
    completed = quiet_events.of("message.completed")[0]["data"]["message"]["content"]
    assert completed == answer
    frames = json.dumps(noisy_events.frames + quiet_events.frames)
    assert "run.error" not in frames
    for sql_words in ("unsupported Unicode", "psycopg", "jsonb", "SQL"):
        assert sql_words not in frames
