"""Cancel stops the LLM stream and kills the running command; the run ends cancelled."""

import time
from pathlib import Path

import pytest

from tests.scripted_llm import call, plan, say
from workflows.models import Run, ToolCall

pytestmark = pytest.mark.e2e


def kubectl_processes(needle: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"kubectl") and needle.encode() in b" ".join(argv):
            found.append(int(proc.name))
    return found


def gone_eventually(needle: str, within_s: float = 10) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not kubectl_processes(needle):
            return True
        time.sleep(0.1)
    return False


def test_it_cancels_a_running_command_and_kills_its_process(shop, live_llm):
    ns = shop.namespace
    shop.sandbox.scenario("imagepull", ns)  # `inventory` never becomes ready: rollout status waits
    live_llm.set_script(
        [
            plan([("Wait for the inventory rollout", "k8s_rollout_status")]),
            call("k8s_rollout_status", {"kind": "deployment", "name": "inventory", "namespace": ns}),
        ]
    )
    with shop.socket() as events:
        run_id = shop.ask("wait until inventory is rolled out")["run"]["id"]
        tool_call = events.until("tool.call")["data"]
        events.until("tool.output", lambda f: f["data"]["call_id"] == tool_call["call_id"])
        assert kubectl_processes(ns)
        with shop.client(shop.operator) as client:
            response = client.post(f"/runs/{run_id}/cancel/")
        assert response.status_code == 202, response.text
        assert events.until("run.finished", timeout=30)["data"]["status"] == "cancelled"
    assert Run.objects.get(pk=run_id).status == "cancelled"
    assert gone_eventually(ns)
    assert ToolCall.objects.filter(run_id=run_id, state="started").count() == 0
    with shop.client(shop.operator) as client:
        assert client.post(f"/runs/{run_id}/cancel/").status_code == 409


def test_it_cancels_mid_stream(shop, live_llm):
    long_answer = " ".join(f"word{n}" for n in range(400))
    live_llm.set_script([plan([]), say(long_answer, agent="responder", tokens_per_second=20)])
    with shop.socket() as events:
        run_id = shop.ask("tell me a long story about web")["run"]["id"]
        events.until("message.delta", lambda f: f["data"]["agent"] == "responder")
        with shop.client(shop.viewer) as client:  # a viewer who did not ask may not cancel
            assert client.post(f"/runs/{run_id}/cancel/").status_code == 403
        with shop.client(shop.operator) as client:
            assert client.post(f"/runs/{run_id}/cancel/").status_code == 202
        assert events.until("run.finished", timeout=30)["data"]["status"] == "cancelled"
    assert "message.completed" not in events.types()
    streamed = "".join(f["data"]["text"] for f in events.of("message.delta"))
    assert 0 < len(streamed) < len(long_answer)
