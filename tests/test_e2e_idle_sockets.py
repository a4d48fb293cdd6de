"""Idle WebSockets cost the database a few statements per check interval for the whole web process, not a few per
socket — counted on the wire between daphne and PostgreSQL — and the periodic check still does its jobs: a frame
the channel layer never delivered reaches the socket, and a socket whose user lost access is closed."""

import time

import pytest
from django.db import connection

from chats.models import Conversation, RunEvent
from orgs.models import Role
from tests.accounts import make_cluster, make_member, make_org
from tests.live import EventSocket, _database_url_for_test_db, extra_stack
from tests.pg_counter import PgCounter

pytestmark = pytest.mark.e2e

SOCKETS = 30
INTERVALS = 4


@pytest.fixture(scope="module")
def counted(live_database):
    with PgCounter() as pg:
        url = _database_url_for_test_db().replace("127.0.0.1:5432", f"127.0.0.1:{pg.port}") + "?sslmode=disable"
        with extra_stack(DATABASE_URL=url, SKYFLO_WS_RECHECK_S="1") as stack:
            yield pg, stack


def _open(stack, n: int):
    org = make_org()
    cluster = make_cluster(org)
    users = [make_member(org, Role.OPERATOR) for _ in range(n)]
    conversations = [Conversation.objects.create(org=org, cluster=cluster, owner=u) for u in users]
    sockets = [EventSocket(stack, u, c.pk) for u, c in zip(users, conversations, strict=True)]
    for ws in sockets:
        ws.ws.send('{"type": "resume", "after": 0}')
    return users, conversations, sockets


def test_it_checks_idle_sockets_with_a_few_statements_per_interval_not_per_socket(live_db, counted):
    pg, stack = counted
    _, _, sockets = _open(stack, SOCKETS)
    time.sleep(2)  # the handshakes' and resumes' own statements are behind us
    before = pg.statements
    time.sleep(INTERVALS)
    executed = pg.statements - before
    for ws in sockets:
        ws.close()

    # Per interval: the last seqs and the owners' access, each with the pool's connection check around it;
    # a check per socket would be SOCKETS times that.
    assert executed <= 8 * (INTERVALS + 1)


def test_it_still_sends_a_frame_the_channel_layer_lost_and_closes_a_socket_that_lost_access(live_db, counted):
    _, stack = counted
    users, conversations, sockets = _open(stack, 2)
    RunEvent.objects.create(conversation=conversations[0], seq=1, type="run.queued")  # its frame never went out
    Conversation.objects.filter(pk=conversations[0].pk).update(last_seq=1)
    with connection.cursor() as cursor:  # access lost without the live notification
        cursor.execute("DELETE FROM orgs_membership WHERE user_id = %s", [users[1].pk])

    assert sockets[0].until("run.queued", timeout=10)["seq"] == 1
    with pytest.raises(Exception, match="4403"):
        sockets[1].until("never", timeout=10)
    for ws in sockets:
        ws.close()
