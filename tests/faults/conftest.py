"""The fault suite's scaffolding: a stack of real processes on a throwaway Redis (which a test may kill), clients
that reconnect and resume as a browser does, and the checks every fault ends with.

- `fault_redis`: a redis-server on a free port, no persistence; `.kill()` then `.start()` = a restart that lost
  everything (broker queues, channel-layer groups).
- `fault_stack`: daphne + Celery worker + beat (tests.live) on that Redis and the session's test database, with
  its own scripted-LLM script (`stack.llm`). `stack.web_restart()` kills daphne (SIGKILL) and starts a new one on
  the same port.
- `fault_shop`: tests.live's shop on that stack.
- `Browser`: one conversation's WebSocket; reconnects after a drop and resumes after its last seq.
- `assert_consistent(shop, run_id, *browsers)`: each browser ends with exactly the frames a client connecting
  afterwards replays from the log, in seq order, none twice; `assert_approved_changes(shop, run_id, n)`: the
  sandbox's own log shows n changes to `web`, each after an approval of this run was given.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from tests.live import (
    RUNNING_STACKS,
    _daphne,
    _stack_env,
    _wait_http,
    access_token,
    free_port,
    shop_make,
    stack_start,
)

DEADLINE_S = 60.0  # every fault ends in a correct state within this


class ThrowawayRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="skyflo-fault-redis-"))
        self.proc: subprocess.Popen | None = None
        self.start()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        argv = [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        _wait_port(self.port)

    def kill(self) -> None:
        """SIGKILL: without persistence the next start is empty."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_port(port: int, timeout: float = 20) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@pytest.fixture
def fault_redis():
    redis = ThrowawayRedis()
    yield redis
    redis.close()


def web_restart(stack) -> None:
    """SIGKILL daphne with its sockets open, then serve the same address with a new one."""
    stack.web.kill9()
    port = stack.url.rsplit(":", 1)[1]
    stack.webs[0] = _daphne("daphne-restarted", ["-b", "127.0.0.1", "-p", port], stack.env, stack.workdir)
    _wait_http(f"{stack.url}/healthz", stack.web)


def fault_env(redis: ThrowawayRedis, **overrides: str) -> dict[str, str]:
    """A fault stack's settings: its own Redis, and lost messages dispatched again after 5 s (not 120)."""
    return {"REDIS_URL": redis.url(), "SKYFLO_RUN_DISPATCH_TIMEOUT_S": "5", **overrides}


@pytest.fixture
def others_paused(live_db):
    """The session's other stacks share the database: their beats would recover this test's runs onto their own
    workers (another LLM script), and this test's beat would pick up runs earlier tests left unfinished. Those runs
    are cancelled, and the other beats paused (SIGSTOP) while the test runs, as a stopped machine would be."""
    from workflows.models import Run

    Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.AWAITING_APPROVAL]).update(
        status=Run.Status.CANCELLED, cancel_requested=True
    )
    Run.objects.filter(status=Run.Status.RUNNING).update(cancel_requested=True)
    beats = [stack.beat for stack in RUNNING_STACKS if stack.beat is not None and stack.beat.alive()]
    for beat in beats:
        os.killpg(beat.pid, signal.SIGSTOP)
    yield
    for beat in beats:
        os.killpg(beat.pid, signal.SIGCONT)


@pytest.fixture
def fault_stack(live_database, scripted_llm_server, fault_redis, others_paused):
    from tests.llm import ScriptedLLMHandle

    llm = ScriptedLLMHandle(scripted_llm_server.url, uuid.uuid4().hex[:12])
    stack = stack_start(_stack_env(llm.base_url, 0, fault_env(fault_redis)))
    stack.llm = llm
    stack.redis = fault_redis
    yield stack
    stack.stop()


@pytest.fixture
def fault_shop(live_db, fault_stack, toolserver, sandbox_cluster):
    return shop_make(fault_stack, toolserver, sandbox_cluster)


class Browser:
    """One conversation's WebSocket as the chat page holds it: after a drop it reconnects and resumes after the
    last seq it has; `frames` is everything it received, in arrival order."""

    def __init__(self, stack, user, conversation_id) -> None:
        self.stack, self.user, self.conversation_id = stack, user, conversation_id
        self.frames: list[dict] = []
        self.reconnects = 0
        self.ws = None
        self._connect(deadline=time.monotonic() + DEADLINE_S)

    @property
    def last_seq(self) -> int:
        return self.frames[-1]["seq"] if self.frames else 0

    def _connect(self, deadline: float) -> None:
        while True:
            try:
                self.ws = connect(
                    f"{self.stack.ws_url}/ws/conversations/{self.conversation_id}/",
                    subprotocols=["skyflo.v1", f"bearer.{self._token()}"],
                    additional_headers={"Origin": self.stack.url},
                    open_timeout=5,
                ).__enter__()
                self.ws.send(json.dumps({"type": "resume", "after": self.last_seq}))
                return
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # the web process is not back yet

    def _token(self) -> str:
        return self.user if isinstance(self.user, str) else access_token(self.user)  # a user, or a bearer token

    def until(self, type: str, predicate=None, timeout: float = DEADLINE_S) -> dict:  # noqa: A002
        for frame in self.frames:
            if frame["type"] == type and (predicate is None or predicate(frame)):
                return frame
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {type} within {timeout}s; saw {[f['type'] for f in self.frames]}"
            try:
                frame = json.loads(self.ws.recv(timeout=remaining))
            except TimeoutError:
                continue
            except ConnectionClosed:
                self.reconnects += 1
                self._connect(deadline)
                continue
            if "seq" not in frame:
                continue
            self.frames.append(frame)
            if frame["type"] == type and (predicate is None or predicate(frame)):
                return frame

    def finished(self, run_id: str, timeout: float = DEADLINE_S) -> dict:
        return self.until("run.finished", lambda f: f["run"] == run_id, timeout)["data"]

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def frames_upto(frames: list[dict], seq: int) -> list[dict]:
    return [f for f in frames if f["seq"] <= seq]


def assert_consistent(shop, run_id: str, *browsers: Browser) -> None:
    """Every browser ends with exactly what a client connecting now replays from the log, up to the run's end."""
    with Browser(shop.stack, shop.operator, shop.conversation_id) as fresh:
        end = fresh.until("run.finished", lambda f: f["run"] == run_id)["seq"]
        reference = frames_upto(fresh.frames, end)
    for browser in browsers:
        browser.finished(run_id)
        seqs = [f["seq"] for f in browser.frames]
        assert seqs == sorted(set(seqs)), f"seqs out of order or twice: {seqs}"
        assert frames_upto(browser.frames, end) == reference


def web_changes(shop) -> list[dict]:
    """What the sandbox itself recorded: requests that changed `web` (not reads, not dry runs) and succeeded."""
    return [r for r in shop.sandbox.changes(f"/namespaces/{shop.namespace}/deployments/web") if r["status"] < 300]


def wait_for_change_received(shop, run_id: str) -> None:
    """Until the sandbox has received a change to `web` since the run began (it may not have answered it yet)."""
    from workflows.models import Run

    since = Run.objects.get(pk=run_id).created_at.timestamp()
    path = f"/namespaces/{shop.namespace}/deployments/web"
    deadline = time.monotonic() + DEADLINE_S
    while not [r for r in shop.sandbox.changes(path, answered=False) if r["time"] >= since]:
        assert time.monotonic() < deadline, "the sandbox received no change to web"
        time.sleep(0.05)


def assert_approved_changes(shop, run_id: str, expected: int) -> None:
    from workflows.models import Approval, Run

    since = Run.objects.get(pk=run_id).created_at.timestamp()
    changes = [change for change in web_changes(shop) if change["time"] >= since]
    assert len(changes) == expected, changes
    approved = sorted(
        a.decided_at.timestamp() for a in Approval.objects.filter(run_id=run_id, decision=Approval.Decision.APPROVED)
    )
    for change in changes:
        assert [t for t in approved if t < change["time"]], f"{change} came before any approval of the run"
