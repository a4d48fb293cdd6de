"""Fixtures for chats tests: an org with a cluster, a team and a conversation; WebSocket helpers."""

import json
from dataclasses import dataclass

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group
from django.db import connection
from guardian.shortcuts import assign_perm
from rest_framework_simplejwt.tokens import AccessToken

from chats.event_log import event_log_connections_close
from chats.models import Conversation
from orgs.models import ClusterConnection, Organization, Team, User
from skyflo.asgi import application
from tests.accounts import OrgTrio, make_cluster, make_team

ORIGIN = b"http://127.0.0.1"


@dataclass
class ChatWorld:
    trio: OrgTrio
    org: Organization
    cluster: ClusterConnection
    team: Team
    teammate: User  # a viewer in `team`, which the conversation is shared with
    conversation: Conversation  # owned by trio.operator


@pytest.fixture
def world(trio) -> ChatWorld:
    cluster = make_cluster(trio.org)
    assign_perm("orgs.use_cluster", trio.operator, cluster)
    team = make_team(trio.org, "sre", members=(trio.viewer,))
    conversation = Conversation.objects.create(org=trio.org, cluster=cluster, owner=trio.operator, title="Scale web")
    assign_perm("chats.view_conversation", team.group, conversation)
    return ChatWorld(trio, trio.org, cluster, team, trio.viewer, conversation)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _close_thread_connections(django_db_setup, django_db_blocker):
    """Consumers and the async publisher hold connections in worker threads; end them before the test
    database is dropped."""
    yield
    event_log_connections_close()
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


def access_token(user: User, **claims) -> str:
    token = AccessToken.for_user(user)
    for key, value in claims.items():
        token[key] = value
    return str(token)


def ws_communicator(conversation_id, *, token: str | None = None, origin: bytes | None = ORIGIN, query: str = ""):
    path = f"/ws/conversations/{conversation_id}/" + (f"?{query}" if query else "")
    headers = [(b"host", b"127.0.0.1")]
    if origin is not None:
        headers.append((b"origin", origin))
    subprotocols = ["skyflo.v1", f"bearer.{token}"] if token else ["skyflo.v1"]
    return WebsocketCommunicator(application, path, headers=headers, subprotocols=subprotocols)


async def ws_frames(communicator, count: int, timeout: float = 5) -> list[dict]:
    return [json.loads(await communicator.receive_from(timeout)) for _ in range(count)]


def group_remove(group: Group, user: User) -> None:
    group.user_set.remove(user)
