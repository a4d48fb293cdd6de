"""A Skyflo started for one eval session: a fresh PostgreSQL database, the sandbox cluster, the eval charts served as
a helm repository, the tool server (its MCP_HELM_REPOSITORIES naming that repository), daphne, a Celery worker and
beat; then an owner, an eval operator and the cluster connection, made through the public API.

The process launchers are the test suite's (`sandbox.testing`, `mcp_server.testing`, `tests.live`): they start
programs, they import no workflow code.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack

import httpx

from evals.chartrepo import charts_served
from evals.client import Credentials, Session
from evals.cluster import REPO_ROOT, Cluster
from evals.runner import Target


class StackError(Exception):
    """The stack could not be started; the message says what to do."""


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise StackError(
            "starting Skyflo for the evals needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/any "
            "(a fresh database is created on that server and dropped afterwards), or point at a running Skyflo "
            "with --skyflo-url"
        )
    return url


def _admin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))


def _with_db(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@contextlib.contextmanager
def _database(url: str) -> Iterator[str]:
    import psycopg

    name = f"skyflo_evals_{secrets.token_hex(4)}"
    with psycopg.connect(_admin(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(url, name)
    finally:
        with psycopg.connect(_admin(url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(database_url: str, llm: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        DJANGO_DEBUG="1",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(32),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        SKYFLO_MESSAGE_RATE="1000/min",
        SKYFLO_AUTH_RATE="1000/min",
        SKYFLO_WORKER_CONCURRENCY=os.environ.get("SKYFLO_WORKER_CONCURRENCY", "4"),
        PYTHONPATH=str(REPO_ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update({k: v for k, v in llm.items() if v})
    return env


def _migrate(env: dict[str, str]) -> None:
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise StackError(f"migrating the eval database failed:\n{result.stderr[-2000:]}")


def _register(url: str, body: dict) -> dict:
    response = httpx.post(f"{url}/api/v1/auth/register/", json=body, timeout=60)
    if response.status_code != 201:
        raise StackError(f"registering {body['email']} failed ({response.status_code}): {response.text[:300]}")
    return response.json()


def _accounts(url: str, toolserver, cluster: Cluster) -> Target:
    """The owner registers (the first user of an empty install), invites the eval operator and grants them the
    cluster, all through the public API."""
    owner_creds = Credentials("evals-owner@skyflo.test", secrets.token_urlsafe(18))
    operator_creds = Credentials("evals-operator@skyflo.test", secrets.token_urlsafe(18))
    _register(url, {"email": owner_creds.email, "password": owner_creds.password, "org_name": "Evals"})
    owner = Session(url, owner_creds)
    org = owner.get("/auth/me/")["orgs"][0]
    invitation = owner.post(f"/orgs/{org}/invitations/", {"email": operator_creds.email, "role": "operator"})
    body = {"email": operator_creds.email, "password": operator_creds.password, "invitation": invitation["token"]}
    operator_id = _register(url, body)["id"]
    connection = {
        "name": "sandbox",
        "mcp_server_url": toolserver.url,
        "mcp_server_token": toolserver.token,
        "default_namespace": "default",
    }
    cluster_id = owner.post(f"/orgs/{org}/clusters/", connection)["id"]
    owner.post(f"/orgs/{org}/clusters/{cluster_id}/grants/", {"user": operator_id, "permission": "operate_cluster"})
    # The operator sees the owner's conversations (and so their approvals) through a team they are shared with.
    team = owner.post(f"/orgs/{org}/teams/", {"name": "eval operators"})["id"]
    owner.post(f"/orgs/{org}/teams/{team}/members/", {"user": operator_id})
    return Target(owner, Session(url, operator_creds), org, cluster_id, cluster, share_team=team)


@contextlib.contextmanager
def stack_started(llm: dict[str, str], charts_port: int = 0) -> Iterator[Target]:
    """`llm`: LLM_BASE_URL / LLM_MODEL / LLM_API_KEY overrides (empty values keep the environment's);
    `charts_port`: where the eval charts' repository listens (0: a free port)."""
    from mcp_server.testing import run_toolserver
    from sandbox.testing import start_sandbox
    from tests.live import stack_start

    database_url = _database_url()
    with ExitStack() as stack:
        env = _env(stack.enter_context(_database(database_url)), llm)
        _migrate(env)
        sandbox = start_sandbox(helm_database=True)
        stack.callback(sandbox.close)
        cluster = Cluster(sandbox.kubeconfig, sandbox.env)
        stack.callback(cluster.close)
        # The tool server takes charts only from its configured repositories: the eval charts', served here.
        cluster.charts_url = stack.enter_context(charts_served(cluster, charts_port))
        repositories = {"MCP_HELM_REPOSITORIES": cluster.charts_url}
        toolserver = stack.enter_context(run_toolserver(sandbox.env, extra_env=repositories))
        live = stack_start(env)
        stack.callback(live.stop)
        target = _accounts(live.url, toolserver, cluster)
        stack.callback(target.requester.close)
        stack.callback(target.approver.close)
        yield target
