"""The README's run command in embedded mode: SQLite, in-memory channel layer, runs in-process, a local tool server
and the simulated sandbox cluster — a newcomer signs up and chats with the cluster with nothing else installed.

This is the one test on SQLite (STYLE.md); it drives `bash scripts/run.sh` exactly as `make run` does.
"""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.live import free_port
from tests.scripted_llm import call, plan, say, verdict

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


@pytest.fixture
def embedded(tmp_path, scripted_llm):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "DJANGO_SECRET_KEY", "KUBECONFIG"}
    }
    env.update(
        HOME=str(tmp_path),  # no ~/.kube/config here, so the sandbox cluster starts
        SKYFLO_VAR_DIR=str(tmp_path / "var"),
        LLM_BASE_URL=scripted_llm.base_url,
        LLM_API_KEY=scripted_llm.api_key,
        LLM_MODEL=scripted_llm.model,
    )
    proc = subprocess.Popen(
        ["bash", "scripts/run.sh", "--port", str(port)],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        _wait_until_healthy(client, proc)
        yield client, tmp_path / "var", proc
    finally:
        client.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_until_healthy(client: httpx.Client, proc: subprocess.Popen) -> None:
    for _ in range(600):  # bounded: the first start installs nothing new but migrates a fresh SQLite file
        if proc.poll() is not None:
            pytest.fail(f"make run exited with {proc.returncode}:\n{proc.stdout.read()}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("make run did not serve /healthz")


def _run_finished(client: httpx.Client, run_id: str, headers: dict) -> dict:
    for _ in range(600):
        run = client.get(f"/api/v1/runs/{run_id}/", headers=headers).json()
        if run["status"] in {"succeeded", "failed", "cancelled", "denied"}:
            return run
        time.sleep(0.2)
    pytest.fail(f"run {run_id} did not finish: {run}")


def test_it_serves_health_docs_and_lets_a_newcomer_chat_with_the_sandbox(embedded, scripted_llm):
    client, var, _ = embedded
    assert client.get("/readyz").json()["checks"] == {"database": True, "channel_layer": True}
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert (var / "db.sqlite3").exists()
    assert (var / "secret_key").stat().st_mode & 0o077 == 0

    registered = client.post(
        "/api/v1/auth/register/", json={"email": "ada@example.com", "password": "a long enough passphrase"}
    )
    assert registered.status_code == 201, registered.text
    tokens = client.post(
        "/api/v1/auth/token/", json={"email": "ada@example.com", "password": "a long enough passphrase"}
    )
    headers = {"Authorization": f"Bearer {tokens.json()['access']}"}
    org = client.get("/api/v1/orgs/", headers=headers).json()["results"][0]
    clusters = client.get(f"/api/v1/orgs/{org['slug']}/clusters/", headers=headers).json()["results"]
    assert [(c["name"], c["is_sandbox"], c["default_namespace"]) for c in clusters] == [("sandbox", True, "shop")]

    scripted_llm.set_script(
        [
            plan([("List the deployments in shop", "k8s_get")]),
            call("k8s_get", {"kind": "deployments", "namespace": "shop"}),
            verdict(True, "listed"),
            say("shop runs web and checkout.", agent="responder"),
        ]
    )
    conversation = client.post(
        "/api/v1/conversations/", json={"org": org["slug"], "cluster": clusters[0]["id"]}, headers=headers
    ).json()
    posted = client.post(
        f"/api/v1/conversations/{conversation['id']}/messages/",
        json={"content": "which deployments run in shop?"},
        headers=headers,
    )
    assert posted.status_code == 202, posted.text

    run = _run_finished(client, posted.json()["run"]["id"], headers)
    assert run["status"] == "succeeded"
    events = client.get(f"/api/v1/runs/{run['id']}/events/", headers=headers).json()["results"]
    result = next(e["data"] for e in events if e["type"] == "tool.result")
    assert result["ok"] is True
    assert "web" in result["output"]
    assert "checkout" in result["output"]
    messages = client.get(f"/api/v1/conversations/{conversation['id']}/messages/", headers=headers).json()
    assert messages["results"][0]["content"] == "shop runs web and checkout."


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(line) for line in found.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize("stop", ["sigterm", "ctrl_c"])
def test_it_stops_every_process_after_a_run_on_sigterm_and_ctrl_c(embedded, scripted_llm, stop):
    client, _, proc = embedded
    client.post("/api/v1/auth/register/", json={"email": "bo@example.com", "password": "a long enough passphrase"})
    access = client.post(
        "/api/v1/auth/token/", json={"email": "bo@example.com", "password": "a long enough passphrase"}
    ).json()["access"]
    headers = {"Authorization": f"Bearer {access}"}
    org = client.get("/api/v1/orgs/", headers=headers).json()["results"][0]
    cluster = client.get(f"/api/v1/orgs/{org['slug']}/clusters/", headers=headers).json()["results"][0]
    scripted_llm.set_script([plan([]), say("Nothing to do.", agent="responder")])
    conversation = client.post(
        "/api/v1/conversations/", json={"org": org["slug"], "cluster": cluster["id"]}, headers=headers
    ).json()
    posted = client.post(
        f"/api/v1/conversations/{conversation['id']}/messages/", json={"content": "hello"}, headers=headers
    )
    assert _run_finished(client, posted.json()["run"]["id"], headers)["status"] == "succeeded"
    children = _children(proc.pid)
    assert len(children) == 3  # sandbox, tool server, daphne

    if stop == "sigterm":
        proc.send_signal(signal.SIGTERM)  # what a service manager sends to `make run`'s process
    else:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    output, _ = proc.communicate(timeout=60)

    assert [pid for pid in children if _alive(pid)] == []
    assert "did not stop" not in output  # each process ended by itself; none had to be killed
