"""Every list endpoint answers with the same number of queries whatever the page holds: a page of 12 rows costs
what a page of 2 costs (no query per row)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chats.models import Conversation, Message, RunEvent
from orgs.models import Membership, Role
from tests.accounts import bearer_client, make_cluster, make_member, make_org, make_team, make_user

FEW, MANY = 2, 12


def _count(client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries), len(response.json()["results"])


@pytest.fixture
def owner_setup(db):
    org = make_org()
    owner = make_member(org, Role.OWNER)
    cluster = make_cluster(org, url="http://127.0.0.1:9/mcp")
    return org, owner, cluster, bearer_client(owner)


def _conversations(org, owner, cluster, _client, n):
    team = make_team(org, f"readers{n}-{Conversation.objects.count()}", members=(owner,))
    for i in range(n):
        conversation = Conversation.objects.create(org=org, cluster=cluster, owner=owner, title=f"c{i}")
        if i % 2:
            from guardian.shortcuts import assign_perm

            assign_perm("chats.view_conversation", team.group, conversation)
    return "/api/v1/conversations/"


def _messages(org, owner, cluster, _client, n):
    conversation = Conversation.objects.filter(org=org).first() or Conversation.objects.create(
        org=org, cluster=cluster, owner=owner
    )
    for i in range(n):
        Message.objects.create(conversation=conversation, role="user", author=owner, content=f"m{i}")
    return f"/api/v1/conversations/{conversation.pk}/messages/"


def _events(org, owner, cluster, _client, n):
    conversation = Conversation.objects.filter(org=org).first() or Conversation.objects.create(
        org=org, cluster=cluster, owner=owner
    )
    run_id = "00000000-0000-4000-8000-000000000001"
    start = RunEvent.objects.filter(conversation=conversation).count()
    for i in range(n):
        RunEvent.objects.create(conversation=conversation, run_id=run_id, seq=start + i + 1, type="run.started")
    Message.objects.get_or_create(conversation=conversation, role="user", author=owner, content="q", run_id=run_id)
    return f"/api/v1/runs/{run_id}/events/"


def _orgs(_org, owner, _cluster, _client, n):
    for _ in range(n):
        Membership.objects.create(org=make_org(), user=owner, role=Role.VIEWER)
    return "/api/v1/orgs/"


def _members(org, _owner, _cluster, _client, n):
    for _ in range(n):
        make_member(org, Role.OPERATOR)
    return f"/api/v1/orgs/{org.slug}/members/"


def _teams(org, owner, _cluster, client, n):
    for i in range(n):
        created = client.post(f"/api/v1/orgs/{org.slug}/teams/", {"name": f"t{i}-{org.teams.count()}"}, format="json")
        assert created.status_code == 201, created.content
        client.post(f"/api/v1/orgs/{org.slug}/teams/{created.json()['id']}/members/", {"user": str(owner.pk)})
    return f"/api/v1/orgs/{org.slug}/teams/"


def _team_members(org, _owner, _cluster, _client, n):
    team = org.teams.filter(name="crew").first() or make_team(org, "crew")
    team.group.user_set.add(*(make_member(org) for _ in range(n)))
    return f"/api/v1/orgs/{org.slug}/teams/{team.pk}/members/"


def _invitations(org, _owner, _cluster, client, n):
    for _ in range(n):
        invited = client.post(
            f"/api/v1/orgs/{org.slug}/invitations/", {"email": make_user().email, "role": "viewer"}, format="json"
        )
        assert invited.status_code == 201, invited.content
    return f"/api/v1/orgs/{org.slug}/invitations/"


def _clusters(org, _owner, _cluster, _client, n):
    for i in range(n):
        make_cluster(org, f"c{org.clusters.count()}-{i}")
    return f"/api/v1/orgs/{org.slug}/clusters/"


def _grants(org, _owner, cluster, client, n):
    for _ in range(n):
        granted = client.post(
            f"/api/v1/orgs/{org.slug}/clusters/{cluster.pk}/grants/",
            {"user": str(make_member(org).pk), "permission": "use_cluster"},
            format="json",
        )
        assert granted.status_code == 201, granted.content
    return f"/api/v1/orgs/{org.slug}/clusters/{cluster.pk}/grants/"


def _audit(org, _owner, _cluster, client, n):
    for i in range(n):  # each rename is recorded in the audit log
        assert client.patch(f"/api/v1/orgs/{org.slug}/", {"name": f"Org {i}"}, format="json").status_code == 200
    return f"/api/v1/orgs/{org.slug}/audit/"


@pytest.mark.parametrize(
    "add",
    [
        _conversations,
        _messages,
        _events,
        _orgs,
        _members,
        _teams,
        _team_members,
        _invitations,
        _clusters,
        _grants,
        _audit,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_it_lists_many_rows_with_the_queries_of_few(owner_setup, add):
    org, owner, cluster, client = owner_setup
    url = add(org, owner, cluster, client, FEW)
    client.get(url)  # process-wide caches (content types) filled once, not per page
    few_queries, few_rows = _count(client, url)
    add(org, owner, cluster, client, MANY - FEW)
    many_queries, many_rows = _count(client, url)

    assert many_rows > few_rows
    assert many_queries == few_queries
