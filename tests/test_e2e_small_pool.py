"""A worker whose PostgreSQL pool is smaller than its run loop's database threads would want: many runs at once
still all finish. Each of those threads keeps a connection checked out; with more threads than the pool holds,
the rest waited for a connection that never came back, and runs were left unfinished."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from guardian.shortcuts import assign_perm

from chats.models import Conversation
from orgs.models import Role
from tests.accounts import make_cluster, make_member, make_org
from tests.live import api, extra_stack
from tests.llm import ScriptedLLMHandle
from tests.scripted_llm import plan, say

pytestmark = pytest.mark.e2e

RUNS = 60


@pytest.fixture(scope="module")
def small_pool_stack(live_database, scripted_llm_server):
    model = ScriptedLLMHandle(scripted_llm_server.url, "e2e-small-pool")
    with extra_stack(llm_base_url=model.base_url, SKYFLO_DB_POOL_SIZE="5", SKYFLO_HTTP_CONCURRENCY="16") as stack:
        yield stack, model


def test_every_run_finishes_when_runs_outnumber_the_pool(small_pool_stack, live_db, toolserver):
    stack, model = small_pool_stack
    model.set_script([{**plan([]), "repeat": True}, {**say("Nothing to do.", agent="responder"), "repeat": True}])
    org = make_org()
    cluster = make_cluster(org, url=toolserver.url, token=toolserver.token, default_namespace="default")
    clients, conversations = [], []
    for _ in range(RUNS):
        user = make_member(org, Role.OPERATOR)
        assign_perm("orgs.use_cluster", user, cluster)
        conversations.append(Conversation.objects.create(org=org, cluster=cluster, owner=user).pk)
        clients.append(api(stack, user))

    def post(client, conversation_id):
        return client.post(f"/conversations/{conversation_id}/messages/", json={"content": "anything to do?"})

    with ThreadPoolExecutor(RUNS) as pool:  # all at once: the runs' database calls overlap
        answers = list(pool.map(post, clients, conversations))
    assert [a.status_code for a in answers] == [202] * RUNS
    runs = [a.json()["run"]["id"] for a in answers]

    deadline = time.monotonic() + 90
    statuses = {}
    while time.monotonic() < deadline and len(statuses) < RUNS:
        for client, run_id in zip(clients, runs, strict=True):
            status = client.get(f"/runs/{run_id}/").json()["status"]
            if status in {"succeeded", "failed", "cancelled"}:
                statuses[run_id] = status
        time.sleep(0.5)

    assert sorted(statuses.values()) == ["succeeded"] * RUNS  # the old worker left a few of 60 unfinished
