"""PostgreSQL restarted (and crashed) in the middle of a run, on a throwaway server: the run continues from its
checkpoint instead of failing for good (finding 18), and no seq is handed out twice after a crash (finding 27)."""

from types import SimpleNamespace

import httpx
import pytest

from tests.faults.conftest import Browser, assert_consistent, fault_env
from tests.faults.postgres import ThrowawayPostgres, database_prepare
from tests.live import _stack_env, deployment_yaml, stack_start
from tests.scripted_llm import call, plan, say, verdict

pytestmark = pytest.mark.e2e


@pytest.fixture
def pg_shop(scripted_llm_server, fault_redis, toolserver, sandbox_cluster, others_paused):
    """A stack whose database lives on a PostgreSQL server of its own (wal_writer_delay long, so that a crash
    loses the last asynchronously committed events)."""
    import uuid

    from tests.llm import ScriptedLLMHandle

    server = ThrowawayPostgres(wal_writer_delay_ms=10_000)
    namespace = sandbox_cluster.new_namespace("pg")
    sandbox_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml("web"))
    llm = ScriptedLLMHandle(scripted_llm_server.url, uuid.uuid4().hex[:12])
    env = _stack_env(llm.base_url, 0, fault_env(fault_redis, DATABASE_URL=server.url("skyflo_fault")))
    seeded = database_prepare(env, toolserver=toolserver, namespace=namespace)
    stack = stack_start(env)
    stack.llm = llm
    yield SimpleNamespace(
        stack=stack,
        server=server,
        namespace=namespace,
        sandbox=sandbox_cluster,
        conversation_id=seeded["conversation_id"],
        operator=seeded["operator"],
        operator2=seeded["operator2"],
    )
    stack.stop()
    server.close()


def client(shop, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{shop.stack.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def ask(shop, content: str) -> str:
    with client(shop, shop.operator) as http:
        response = http.post(f"/conversations/{shop.conversation_id}/messages/", json={"content": content})
    assert response.status_code == 202, response.text
    return response.json()["run"]["id"]


def approve(shop, approval_id: str) -> None:
    with client(shop, shop.operator2) as http:
        response = http.post(f"/approvals/{approval_id}/decide/", json={"decision": "approve"})
    assert response.status_code == 200, response.text


def run_status(shop, run_id: str) -> dict:
    with client(shop, shop.operator) as http:
        return http.get(f"/runs/{run_id}/").json()


def web_changes(shop) -> list[dict]:
    changes = shop.sandbox.changes(f"/namespaces/{shop.namespace}/deployments/web")
    return [r for r in changes if r["status"] < 300]


def scale_and_answer(shop, answer: str, *, slow: str) -> list[dict]:
    args = {"kind": "deployment", "name": "web", "namespace": shop.namespace, "replicas": 3}
    first, again = verdict(True, "web has 3 replicas " * 6), verdict(True, "web has 3 replicas")
    first_answer, second_answer = say(answer, agent="responder"), say(answer, agent="responder")
    {"verifier": first, "responder": first_answer}[slow]["tokens_per_second"] = 8
    return [plan([("Scale web to 3", "k8s_scale")]), call("k8s_scale", args), first, again, first_answer, second_answer]


def test_finding_18_a_run_survives_a_postgresql_restart(pg_shop):
    shop = pg_shop
    shop.stack.llm.set_script(scale_and_answer(shop, "Scaled web to 3.", slow="verifier"))
    with Browser(shop.stack, shop.operator, shop.conversation_id) as browser:
        run_id = ask(shop, "scale web to 3")
        approve(shop, browser.until("approval.requested")["data"]["approval_id"])
        browser.until("step.finished")  # the verifier is streaming when the database goes away
        shop.server.restart()
        assert browser.finished(run_id)["status"] == "succeeded"
        assert_consistent(shop, run_id, browser)
    assert run_status(shop, run_id)["status"] == "succeeded"
    assert len(web_changes(shop)) == 1


def test_finding_27_no_seq_is_sent_twice_after_a_postgresql_crash(pg_shop):
    shop = pg_shop
    answer = " ".join(f"word{n}" for n in range(60))
    shop.stack.llm.set_script(scale_and_answer(shop, answer, slow="responder"))
    with Browser(shop.stack, shop.operator, shop.conversation_id) as browser:
        run_id = ask(shop, "scale web to 3")
        approve(shop, browser.until("approval.requested")["data"]["approval_id"])
        browser.until("message.delta", lambda f: sum(x["type"] == "message.delta" for x in browser.frames) >= 5)
        shop.server.crash()  # the last events, committed asynchronously, are lost with their seqs
        assert browser.finished(run_id)["status"] == "succeeded"
        with Browser(shop.stack, shop.operator, shop.conversation_id) as fresh:
            fresh.finished(run_id)
            replayed = {f["seq"]: f for f in fresh.frames}
    seen = {f["seq"]: f for f in browser.frames}
    assert [f for f in browser.frames if f["seq"] in replayed] == [f for f in fresh.frames if f["seq"] in seen]
    assert set(replayed) <= set(seen)  # whatever the log holds, the connected browser got
    assert max(seen) > 1_000_000  # the crash recovery was noticed: seqs moved past any that may have been lost
    assert len(web_changes(shop)) == 1
