"""Pytest plugin: the product's real processes for end-to-end tests — daphne, a Celery worker, Celery beat.

Fixtures (session-scoped; the processes point at pytest-django's test database; tests that use them take
`live_db` instead of a django_db mark, so that what they write is committed and visible to the processes):

- `live_llm`: a session-wide script of the scripted LLM server (`.set_script(turns, tokens_per_second=)`);
  its base URL is the stack's LLM_BASE_URL.
- `live_stack`: `LiveStack` with `.url` (http://127.0.0.1:PORT), `.ws_url`, `.env`, `.worker` (the Celery
  worker's Popen), `.worker_kill()` (SIGKILL), `.worker_start()`. Beat runs the periodic jobs every second.
  Its Slack Web API is the scripted one of tests/slack_api.py (`slack_server`).
- `extra_stack(llm_base_url=None, **env_overrides)`: a context manager for another stack with changed settings, e.g.
  no LLM, on a Redis db no running stack uses (so no other stack's worker takes its tasks), stopped on exit; the
  fixture using it must depend on `live_database`.

Helpers for tests: `api(stack, user)` (an httpx client with a bearer token) and `EventSocket` (the WebSocket of
one conversation; `.until(type, predicate)` waits for an event and keeps every frame it saw).

Outside pytest, `python -m tests.live beat` runs beat with one-second schedules (used by the fixture).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
STARTUP_TIMEOUT_S = 40.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_url_with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def _database_url_for_test_db() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    auth = db.get("USER") or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{auth}{'@' if auth else ''}{host}/{db['NAME']}"


class Proc:
    """A child process with its log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path, pass_fds: tuple[int, ...] = ()):
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 - fixed argv of our own programs
            argv,
            env=env,
            cwd=REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=pass_fds,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.alive():
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._log.close()


def _wait_http(url: str, proc: Proc) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.log()[-4000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {url}:\n{proc.log()[-4000:]}")


def _wait_log(proc: Proc, marker: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.log()[-4000:]}")
        if marker in proc.log():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not log {marker!r}:\n{proc.log()[-4000:]}")


def _wait_adopted(proc: Proc, fd: int) -> None:
    """Wait until a daphne given `--fd` serves the socket: twisted starts listening on its own copy of the
    descriptor, then closes the inherited one (daphne logs nothing we could wait for at our log level)."""
    ours = os.readlink(f"/proc/self/fd/{fd}")  # socket:[inode]
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.log()[-4000:]}")
        try:
            if os.readlink(f"/proc/{proc.pid}/fd/{fd}") != ours:
                return  # closed, and the number reused for something else
        except FileNotFoundError:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not take the socket:\n{proc.log()[-4000:]}")


RUNNING_STACKS: list[LiveStack] = []  # stacks of this session still running (their beats share the database)


@dataclass
class LiveStack:
    url: str
    env: dict[str, str]
    workdir: Path
    webs: list[Proc]
    worker: Proc | None = None
    beat: Proc | None = None
    workers: list[Proc] = field(default_factory=list)

    @property
    def web(self) -> Proc:
        """The first daphne (the only one unless the stack was started with web > 1)."""
        return self.webs[0]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def worker_start(self) -> Proc:
        # The pool and its size come from settings (SKYFLO_WORKER_CONCURRENCY, set in _stack_env).
        argv = [str(VENV_BIN / "celery"), "-A", "skyflo", "worker"]
        argv += ["--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n", f"w{len(self.workers)}@%h"]
        self.worker = Proc(f"worker{len(self.workers)}", argv, self.env, self.workdir)
        self.workers.append(self.worker)
        _wait_log(self.worker, "ready.")
        return self.worker

    def worker_kill(self) -> None:
        """SIGKILL the current worker (no shutdown, no acks): what a crashed machine looks like."""
        assert self.worker is not None
        self.worker.kill9()

    def stop(self) -> None:
        if self in RUNNING_STACKS:
            RUNNING_STACKS.remove(self)
        for proc in self.workers:
            proc.stop(signal.SIGQUIT)  # cold shutdown: runs still held are recovered like after a crash
        for proc in (self.beat, *self.webs):
            if proc is not None:
                proc.stop()


def _stack_env(llm_base_url: str | None, redis_db: int, overrides: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "OPENAI_", "PYTEST_"))}
    env.update(
        DATABASE_URL=_database_url_for_test_db(),
        REDIS_URL=_redis_url_with_db(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), redis_db),
        DJANGO_DEBUG="1",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY") or _settings_secret(),
        SKYFLO_RUN_HEARTBEAT_TIMEOUT_S="5",
        SKYFLO_MAX_CONCURRENT_RUNS_PER_USER="60",
        # Production's thread pool, but small: every thread may hold a PostgreSQL connection, and several
        # stacks share the test server's max_connections. Benchmarks override it.
        SKYFLO_WORKER_CONCURRENCY="8",
        SKYFLO_MESSAGE_RATE="1000/min",
        SKYFLO_USER_RATE="10000/min",
        PYTHONPATH=str(REPO_ROOT),
        PYTHONUNBUFFERED="1",
    )
    if llm_base_url:
        env.update(LLM_BASE_URL=llm_base_url, LLM_API_KEY="scripted-key", LLM_MODEL="scripted-model")
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def _settings_secret() -> str:
    from django.conf import settings

    return settings.SECRET_KEY


def stack_start(env: dict[str, str], *, beat: bool = True, web: int = 1, workers: int = 1) -> LiveStack:
    """The product's processes: `web` daphnes (more than one share one listening socket, as in scaled mode),
    `workers` Celery workers and, with `beat`, beat. `.web` is the first daphne, `.webs` all of them."""
    workdir = Path(tempfile.mkdtemp(prefix="skyflo-live-"))
    if web == 1:
        port = free_port()
        webs = [_daphne("daphne", ["-b", "127.0.0.1", "-p", str(port)], env, workdir)]
    else:
        port, webs = _daphnes_on_one_socket(web, env, workdir)
    stack = LiveStack(url=f"http://127.0.0.1:{port}", env=env, workdir=workdir, webs=webs)
    RUNNING_STACKS.append(stack)
    try:
        _wait_http(f"{stack.url}/healthz", webs[0])
        for _ in range(workers):
            stack.worker_start()
        if beat:
            argv = [sys.executable, "-m", "tests.live", "beat", "--schedule", str(workdir / "beat-schedule")]
            stack.beat = Proc("beat", argv, env, workdir)
    except BaseException:
        stack.stop()
        raise
    return stack


def _daphne(name: str, bind: list[str], env: dict[str, str], workdir: Path, pass_fds: tuple[int, ...] = ()) -> Proc:
    argv = [str(VENV_BIN / "daphne"), *bind, "skyflo.asgi:application"]
    return Proc(name, argv, env, workdir, pass_fds=pass_fds)


def _daphnes_on_one_socket(n: int, env: dict[str, str], workdir: Path) -> tuple[int, list[Proc]]:
    """N daphnes accepting on one socket opened here (daphne's `--fd`, as the Channels deployment docs do with
    supervisord's fcgi-program): one address for clients, the kernel hands each connection to one process."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        fd = listener.fileno()
        names = ["daphne", *(f"daphne{i}" for i in range(1, n))]
        procs = [_daphne(name, ["--fd", str(fd)], env, workdir, pass_fds=(fd,)) for name in names]
        try:
            for proc in procs:
                _wait_adopted(proc, fd)  # all of them serve before the first request is sent
        except BaseException:
            for proc in procs:
                proc.stop()
            raise
        # Our copy closes here: connections must not queue on a socket that no process serves.
        return listener.getsockname()[1], procs


@pytest.fixture(scope="session")
def live_llm(scripted_llm_server):
    from tests.llm import ScriptedLLMHandle

    return ScriptedLLMHandle(scripted_llm_server.url, "live")


@pytest.fixture(scope="session")
def live_database(django_db_setup, django_db_blocker) -> Iterator[None]:
    """The test database, also when no test of the session carries a django_db mark (pytest-django then
    creates none): e2e tests use `live_db`, whose writes commit and are never flushed."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    if str(connection.settings_dict["NAME"]).startswith("test_"):
        yield
        return
    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=0)


@pytest.fixture(scope="session")
def live_stack(live_database, live_llm, slack_server) -> Iterator[LiveStack]:
    redis_db = int(urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")).path.strip("/") or 0)
    # Slack is the scripted one (tests/slack_api.py); only organisations that connected Slack ever call it.
    stack = stack_start(_stack_env(live_llm.base_url, redis_db, {"SKYFLO_SLACK_API_URL": slack_server.url}))
    yield stack
    stack.stop()


def _redis_db(stack: LiveStack) -> int:
    return int(urlsplit(stack.env["REDIS_URL"]).path.strip("/") or 0)


@contextmanager
def extra_stack(llm_base_url: str | None = None, **env: str) -> Iterator[LiveStack]:
    """Another stack (no beat) with changed settings, stopped on exit. Its Redis db is one no running stack uses:
    two workers on one broker db would take each other's runs, with the wrong settings."""
    base = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    used = {int(base.path.strip("/") or 0)} | {_redis_db(s) for s in RUNNING_STACKS}
    free = [db for db in range(16) if db not in used]
    if not free:
        raise RuntimeError(f"no free Redis db for another stack: {len(RUNNING_STACKS)} stacks are running")
    stack = stack_start(_stack_env(llm_base_url, free[0], env), beat=False)
    try:
        yield stack
    finally:
        stack.stop()


# --- helpers for tests ---------------------------------------------------------------------------------------


def access_token(user) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user).access_token)


def api(stack: LiveStack, user) -> httpx.Client:
    return httpx.Client(
        base_url=f"{stack.url}/api/v1", headers={"Authorization": f"Bearer {access_token(user)}"}, timeout=30
    )


class EventSocket:
    """The WebSocket of one conversation, as a browser would hold it."""

    def __init__(self, stack: LiveStack, user, conversation_id):
        from websockets.sync.client import connect

        self.frames: list[dict] = []
        self._connection = connect(
            f"{stack.ws_url}/ws/conversations/{conversation_id}/",
            subprotocols=["skyflo.v1", f"bearer.{access_token(user)}"],
            additional_headers={"Origin": stack.url},
            open_timeout=10,
        )
        self.ws = self._connection.__enter__()

    def __enter__(self) -> EventSocket:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._connection.__exit__(None, None, None)

    def until(self, type: str, predicate: Callable[[dict], bool] | None = None, timeout: float = 60) -> dict:  # noqa: A002
        """Read frames until one of `type` (matching `predicate`) arrives; every frame read is kept."""
        for frame in self.frames:
            if frame["type"] == type and (predicate is None or predicate(frame)) and not frame.get("_taken"):
                frame["_taken"] = True
                return frame
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [f["type"] for f in self.frames]
                raise AssertionError(f"no {type} within {timeout}s; saw {seen}")
            try:
                frame = json.loads(self.ws.recv(timeout=remaining))
            except TimeoutError:
                continue
            self.frames.append(frame)
            if frame["type"] == type and (predicate is None or predicate(frame)):
                frame["_taken"] = True
                return frame

    def types(self) -> list[str]:
        return [frame["type"] for frame in self.frames]

    def of(self, type: str) -> list[dict]:  # noqa: A002
        return [frame for frame in self.frames if frame["type"] == type]


# --- a beat with one-second schedules, for tests -------------------------------------------------------------


def _beat_main(argv: list[str]) -> None:
    import argparse

    import django

    parser = argparse.ArgumentParser(prog="python -m tests.live beat")
    parser.add_argument("command", choices=["beat"])
    parser.add_argument("--schedule", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skyflo.settings")
    django.setup()
    from skyflo.celery import app

    app.conf.beat_schedule = {
        name: {**entry, "schedule": args.interval} for name, entry in app.conf.beat_schedule.items()
    }
    app.Beat(schedule=args.schedule, loglevel="INFO").run()


if __name__ == "__main__":
    _beat_main(sys.argv[1:])


# --- a shop to operate: org, people by role, a cluster on the tool server, a namespace with `web` ---------------


@dataclass
class Shop:
    stack: LiveStack
    org: object
    owner: object
    operator: object
    operator2: object
    viewer: object
    cluster: object
    namespace: str
    conversation_id: str
    sandbox: object

    def client(self, user) -> httpx.Client:
        return api(self.stack, user)

    def socket(self, user=None) -> EventSocket:
        return EventSocket(self.stack, user or self.operator, self.conversation_id)

    def ask(self, content: str, user=None) -> dict:
        """POST the message; returns the 202 body {message, run}."""
        with self.client(user or self.operator) as client:
            response = client.post(f"/conversations/{self.conversation_id}/messages/", json={"content": content})
        assert response.status_code == 202, response.text
        return response.json()

    def run(self, run_id: str, user=None) -> dict:
        with self.client(user or self.operator) as client:
            response = client.get(f"/runs/{run_id}/")
        assert response.status_code == 200, response.text
        return response.json()

    def decide(self, approval_id: str, decision: str, user=None, reason: str = "") -> httpx.Response:
        with self.client(user or self.operator) as client:
            return client.post(f"/approvals/{approval_id}/decide/", json={"decision": decision, "reason": reason})

    def replicas(self, name: str = "web") -> tuple[int, int]:
        """(spec.replicas, status.readyReplicas) as kubectl reports them."""
        deployment = self.sandbox.get_json("deployment", name, self.namespace)
        return deployment["spec"].get("replicas"), deployment.get("status", {}).get("readyReplicas", 0)

    def replicas_settled(self, name: str = "web", within_s: float = 15) -> tuple[int, int]:
        """`replicas()` once the sandbox's controller has caught up with the spec (or after `within_s`)."""
        deadline = time.monotonic() + within_s
        while True:
            spec, ready = self.replicas(name)
            if spec == ready or time.monotonic() > deadline:
                return spec, ready
            time.sleep(0.1)


def deployment_yaml(name: str, *, replicas: int = 1, image: str = "nginx:1.27", annotations: dict | None = None) -> str:
    pod_meta = {"labels": {"app": name}, **({"annotations": annotations} if annotations else {})}
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": pod_meta, "spec": {"containers": [{"name": name, "image": image}]}},
        },
    }
    return json.dumps(manifest)


def shop_make(stack: LiveStack, toolserver, sandbox_cluster, *, four_eyes: bool = False) -> Shop:
    from django.test import override_settings

    # Nobody here signs in with a password (bearer tokens): a fast hasher keeps set-up quick.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        return _shop_make(stack, toolserver, sandbox_cluster, four_eyes=four_eyes)


def _shop_make(stack: LiveStack, toolserver, sandbox_cluster, *, four_eyes: bool) -> Shop:
    from orgs.models import Role
    from tests.accounts import make_cluster, make_member, make_org

    org = make_org(four_eyes=four_eyes)
    people = {role: make_member(org, role) for role in (Role.OWNER, Role.OPERATOR, Role.VIEWER)}
    operator2 = make_member(org, Role.OPERATOR)
    namespace = sandbox_cluster.new_namespace("shop")
    sandbox_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml("web", replicas=1))
    # The shop is open when the tests start: web has its ready pod (the sandbox's controller starts it shortly).
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")
    cluster = make_cluster(org, url=toolserver.url, token=toolserver.token, default_namespace=namespace)
    _grant_operate(cluster, people[Role.OPERATOR], operator2, people[Role.VIEWER])
    with api(stack, people[Role.OPERATOR]) as client:
        body = {"org": org.slug, "cluster": str(cluster.id), "namespace": namespace, "title": ""}
        response = client.post("/conversations/", json=body)
        assert response.status_code == 201, response.text
        conversation_id = response.json()["id"]
    _share_with_org(conversation_id, people[Role.OPERATOR], [operator2, people[Role.VIEWER], people[Role.OWNER]])
    return Shop(
        stack=stack,
        org=org,
        owner=people[Role.OWNER],
        operator=people[Role.OPERATOR],
        operator2=operator2,
        viewer=people[Role.VIEWER],
        cluster=cluster,
        namespace=namespace,
        conversation_id=conversation_id,
        sandbox=sandbox_cluster,
    )


def _grant_operate(cluster, *users) -> None:
    """Set-up: the operators may operate the cluster, the viewer may use it (grants are the orgs API's job)."""
    from guardian.shortcuts import assign_perm

    from orgs.models import Role

    for user in users:
        role = user.memberships.get(org=cluster.org).role
        assign_perm("orgs.use_cluster", user, cluster)
        if role != Role.VIEWER:
            assign_perm("orgs.operate_cluster", user, cluster)


def _share_with_org(conversation_id: str, owner, users) -> None:
    """Set-up: the other people may see and ask in the conversation."""
    from guardian.shortcuts import assign_perm

    from chats.models import Conversation

    conversation = Conversation.objects.get(pk=conversation_id)
    for user in users:
        assign_perm("chats.view_conversation", user, conversation)
        assign_perm("chats.ask_conversation", user, conversation)


@pytest.fixture
def live_db(live_database, django_db_blocker) -> Iterator[None]:
    """Database access whose writes commit at once and stay (no per-test flush): the live processes must see
    them, and a flush would re-create content types under new ids behind the processes' caches. Tests stay
    independent because every row they make has a unique name."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def shop(live_db, live_stack, toolserver, sandbox_cluster) -> Shop:
    return shop_make(live_stack, toolserver, sandbox_cluster)
