"""Every conversation endpoint: anonymous 401, other org 404, visible but not allowed 403, allowed 2xx —
and nothing changes on a refusal."""

import uuid

import pytest
from guardian.shortcuts import assign_perm, get_perms

from chats.models import Conversation, Message, RunEvent
from chats.publisher import event_publish
from tests.accounts import bearer_client, make_cluster, make_team

pytestmark = pytest.mark.django_db

RUN = uuid.UUID("5d1c0000-0000-4000-8000-000000000003")


def _snapshot(world):
    conversation = Conversation.objects.filter(pk=world.conversation.pk).values("title").first()
    return (conversation, Conversation.objects.count(), sorted(get_perms(world.team.group, world.conversation)))


@pytest.fixture
def api(world, anon_client):
    event_publish(conversation_id=world.conversation.pk, run_id=RUN, type="run.queued", data={})
    Message.objects.create(conversation=world.conversation, role="user", author=world.trio.operator, content="hi")
    other_team = make_team(world.org, "ops", members=(world.trio.operator,))
    base = f"/api/v1/conversations/{world.conversation.pk}"
    return {
        "anon": anon_client,
        "owner": bearer_client(world.trio.operator),
        "teammate": bearer_client(world.teammate),
        "outsider": bearer_client(world.trio.outsider),
        "admin_not_shared": bearer_client(world.trio.admin),
        "base": base,
        "other_team": other_team,
    }


READS = [
    ("get", "/"),
    ("get", "/messages/"),
    ("get", "/shares/"),
]


@pytest.mark.parametrize(("method", "suffix"), READS)
def test_it_lets_viewers_read_and_hides_from_others(world, api, method, suffix):
    url = api["base"] + suffix
    assert getattr(api["anon"], method)(url).status_code == 401
    assert getattr(api["outsider"], method)(url).status_code == 404
    assert getattr(api["owner"], method)(url).status_code == 200
    assert getattr(api["teammate"], method)(url).status_code == 200


def test_it_replays_run_events_to_viewers_only(world, api):
    url = f"/api/v1/runs/{RUN}/events/?after=0"
    assert api["anon"].get(url).status_code == 401
    assert api["outsider"].get(url).status_code == 404
    assert api["admin_not_shared"].get(url).status_code == 404
    response = api["teammate"].get(url)
    assert response.status_code == 200
    assert [(f["type"], f["seq"], f["run"]) for f in response.json()["results"]] == [("run.queued", 1, str(RUN))]
    assert api["owner"].get(f"/api/v1/runs/{RUN}/events/?after=1").json()["results"] == []


def test_it_renames_only_for_the_owner(world, api):
    url = api["base"] + "/"
    before = _snapshot(world)
    assert api["anon"].patch(url, {"title": "x"}, format="json").status_code == 401
    assert api["outsider"].patch(url, {"title": "x"}, format="json").status_code == 404
    assert api["teammate"].patch(url, {"title": "x"}, format="json").status_code == 403
    assert _snapshot(world) == before
    response = api["owner"].patch(url, {"title": "Scale checkout"}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "Scale checkout"
    world.conversation.refresh_from_db()
    assert world.conversation.title == "Scale checkout"


def test_it_deletes_only_for_the_owner(world, api):
    url = api["base"] + "/"
    before = _snapshot(world)
    assert api["anon"].delete(url).status_code == 401
    assert api["outsider"].delete(url).status_code == 404
    assert api["teammate"].delete(url).status_code == 403
    assert _snapshot(world) == before
    assert api["owner"].delete(url).status_code == 204
    assert api["owner"].get(url).status_code == 404  # hidden; the row and its messages stay as the trail
    assert Conversation.objects.get(pk=world.conversation.pk).deleted_at is not None
    assert not RunEvent.objects.filter(conversation_id=world.conversation.pk).exists()


def test_it_shares_only_for_the_owner_and_asks_only_with_cluster_use(world, api):
    url = api["base"] + "/shares/"
    team = api["other_team"]
    body = {"team": str(team.pk), "can_ask": True}
    before = sorted(get_perms(team.group, world.conversation))
    assert api["anon"].post(url, body, format="json").status_code == 401
    assert api["outsider"].post(url, body, format="json").status_code == 404
    assert api["teammate"].post(url, body, format="json").status_code == 403
    refused = api["owner"].post(url, body, format="json")
    assert refused.status_code == 400
    assert "can_ask" in refused.json()
    assert sorted(get_perms(team.group, world.conversation)) == before == []
    assign_perm("orgs.use_cluster", team.group, world.cluster)
    response = api["owner"].post(url, body, format="json")
    assert response.status_code == 201
    assert sorted(get_perms(team.group, world.conversation)) == ["ask_conversation", "view_conversation"]


def test_it_unshares_only_for_the_owner(world, api):
    url = api["base"] + f"/shares/{world.team.pk}/"
    assert api["anon"].delete(url).status_code == 401
    assert api["outsider"].delete(url).status_code == 404
    assert api["teammate"].delete(url).status_code == 403
    assert get_perms(world.team.group, world.conversation) == ["view_conversation"]
    assert api["owner"].delete(url).status_code == 204
    assert get_perms(world.team.group, world.conversation) == []
    assert api["teammate"].get(api["base"] + "/").status_code == 404


def test_it_creates_only_on_a_cluster_i_may_use(world, api):
    url = "/api/v1/conversations/"
    body = {"org": world.org.slug, "cluster": str(world.cluster.pk), "title": "New"}
    count = Conversation.objects.count()
    assert api["anon"].post(url, body, format="json").status_code == 401
    assert api["outsider"].post(url, body, format="json").status_code == 404
    assert api["teammate"].post(url, body, format="json").status_code == 403
    other_cluster = make_cluster(world.trio.outsider.memberships.get().org, "prod")
    foreign = {**body, "cluster": str(other_cluster.pk)}
    assert api["owner"].post(url, foreign, format="json").status_code == 404
    assert Conversation.objects.count() == count
    response = api["owner"].post(url, body, format="json")
    assert response.status_code == 201
    created = Conversation.objects.get(pk=response.json()["id"])
    assert (created.owner, created.cluster, created.title, created.namespace) == (
        world.trio.operator,
        world.cluster,
        "New",
        "default",
    )
    assert response.json()["can_ask"] is True


def test_it_lists_only_what_i_may_see(world, api):
    mine = Conversation.objects.create(org=world.org, cluster=world.cluster, owner=world.trio.admin, title="Admin's")
    assert api["anon"].get("/api/v1/conversations/").status_code == 401
    assert api["outsider"].get("/api/v1/conversations/").json()["results"] == []
    listed = api["teammate"].get(f"/api/v1/conversations/?org={world.org.slug}").json()
    assert [c["id"] for c in listed["results"]] == [str(world.conversation.pk)]
    listed = api["admin_not_shared"].get("/api/v1/conversations/").json()
    assert [c["id"] for c in listed["results"]] == [str(mine.pk)]
