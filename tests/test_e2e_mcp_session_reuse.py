"""A worker's runs on one cluster connection share one MCP session and its tool list (SKYFLO_MCP_SESSION_REUSE_S),
seen from the tool server's own count of sessions: each call still acts as its own person, a restarted tool server
is met with a new session, and a connection with other credentials never rides on another's session."""

import os
import signal
import subprocess
import sys

import httpx
import pytest

from mcp_server.testing import REPO_ROOT, ToolServer, _wait_for_port, process_stop
from sandbox.tests.manifests import as_input, binding, role, rule
from tests.accounts import make_cluster, make_team
from tests.live import api, free_port, shop_make
from tests.scripted_llm import call, plan, say, verdict
from tests.test_e2e_impersonation import KEY, act_as_the_person

pytestmark = pytest.mark.e2e
METRICS_TOKEN = "metrics-token-for-the-session-reuse-tests"


def sessions_opened(server: ToolServer) -> dict[str, float]:
    """The tool server's /metrics: initialize and tools/list requests it received."""
    response = httpx.get(
        server.url.replace("/mcp", "/metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5
    )
    assert response.status_code == 200, response.text
    counts = {"initialize": 0.0, "tools/list": 0.0}
    for line in response.text.splitlines():
        if line.startswith("skyflo_toolserver_sessions_total{"):
            labels, value = line.rsplit(" ", 1)
            counts[labels.split('request="')[1].split('"')[0]] = float(value)
    return counts


def read_pods_script(ns: str) -> list[dict]:
    return [
        plan([("List the pods", "k8s_get")]),
        call("k8s_get", {"kind": "pods", "namespace": ns}),
        verdict(True, "listed"),
        say("Here are the pods.", agent="responder"),
    ]


def ask_and_finish(shop, user, content: str) -> list[dict]:
    with shop.socket(user) as events:
        shop.ask(content, user=user)
        assert events.until("run.finished")["data"]["status"] == "succeeded"
    return events.of("tool.result")


def test_two_runs_of_two_people_share_one_session_and_each_call_acts_as_its_own_person(
    live_db, live_stack, toolserver_factory, sandbox_cluster, live_llm
):
    server = toolserver_factory(env={"MCP_IMPERSONATION_KEY": KEY, "SKYFLO_METRICS_TOKEN": METRICS_TOKEN})
    shop = shop_make(live_stack, server, sandbox_cluster)
    act_as_the_person(shop)
    make_team(shop.org, "Ops Crew", members=(shop.operator, shop.operator2))
    ns = shop.namespace
    ops = role("ops", [rule(["get", "list"], ["pods"])], ns)
    sandbox_cluster.kubectl(
        "apply", "-f", "-", input=as_input(ops, binding("ops", ops, [("Group", "skyflo:team:ops-crew")], ns))
    )
    before = sessions_opened(server)

    for person in (shop.operator, shop.operator2):
        live_llm.set_script(read_pods_script(ns))
        assert ask_and_finish(shop, person, "which pods run here?")[0]["data"]["ok"] is True

    after = sessions_opened(server)
    assert after["initialize"] - before["initialize"] == 1
    assert after["tools/list"] - before["tools/list"] == 1
    asked = [r for r in sandbox_cluster.requests_log(f"/namespaces/{ns}/pods") if r["method"] == "GET"]
    assert [r["user"] for r in asked] == [shop.operator.email, shop.operator2.email]


class RestartableToolServer:
    """The tool server as a process on a fixed port, stopped and started again with the same token."""

    def __init__(self, env: dict[str, str], workdir) -> None:
        self.env, self.port, self.workdir = env, free_port(), workdir
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        port_file = self.workdir / f"port-{os.urandom(4).hex()}"
        argv = [sys.executable, "-m", "mcp_server", "--host", "127.0.0.1", "--port", str(self.port)]
        argv += ["--port-file", str(port_file)]
        log = self.workdir / "toolserver.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, our own module
                argv, env=self.env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        _wait_for_port(self.process, port_file, log, 30)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        process_stop(self.process)

    @property
    def server(self) -> ToolServer:
        url = f"http://127.0.0.1:{self.port}/mcp"
        return ToolServer(url, self.env["MCP_SERVER_TOKEN"], self.env, self.port, self.process)


def test_after_the_tool_server_restarts_the_next_run_opens_a_new_session_and_works(
    live_db, live_stack, toolserver, sandbox_cluster, live_llm, tmp_path
):
    restartable = RestartableToolServer({**toolserver.env, "SKYFLO_METRICS_TOKEN": METRICS_TOKEN}, tmp_path)
    try:
        shop = shop_make(live_stack, restartable.server, sandbox_cluster)
        live_llm.set_script(read_pods_script(shop.namespace))
        assert ask_and_finish(shop, shop.operator, "which pods run here?")[0]["data"]["ok"] is True

        restartable.stop()
        restartable.start()  # a new process: it knows none of the sessions of the old one
        live_llm.set_script(read_pods_script(shop.namespace))
        assert ask_and_finish(shop, shop.operator, "and now?")[0]["data"]["ok"] is True
        assert sessions_opened(restartable.server)["initialize"] == 1
    finally:
        restartable.stop()


def test_a_connection_with_another_token_never_rides_on_a_pooled_session(
    live_db, live_stack, toolserver_factory, sandbox_cluster, live_llm
):
    server = toolserver_factory(env={"SKYFLO_METRICS_TOKEN": METRICS_TOKEN})
    shop = shop_make(live_stack, server, sandbox_cluster)
    live_llm.set_script(read_pods_script(shop.namespace))
    ask_and_finish(shop, shop.operator, "which pods run here?")  # the pooled session of the right token

    stale = make_cluster(shop.org, "stale", url=server.url, token="not-the-servers-token", default_namespace="x")
    with api(shop.stack, shop.owner) as client:
        response = client.post("/conversations/", json={"org": shop.org.slug, "cluster": str(stale.id), "title": ""})
        assert response.status_code == 201, response.text
    shop.conversation_id = response.json()["id"]
    live_llm.set_script(read_pods_script("x"))
    with shop.socket(shop.owner) as events:
        shop.ask("which pods run here?", user=shop.owner)
        error = events.until("run.error")["data"]
    assert error["code"] == "tool_server_unreachable"
    assert "tool.call" not in events.types()
