import pytest

from chats.models import Conversation, Message
from tests.accounts import bearer_client

pytestmark = pytest.mark.django_db


def test_it_finds_a_conversation_by_a_word_only_in_a_message_body(world):
    other = Conversation.objects.create(org=world.org, cluster=world.cluster, owner=world.trio.operator, title="DNS")
    Message.objects.create(conversation=world.conversation, role="user", content="please scale the checkout service")
    Message.objects.create(conversation=other, role="user", content="why does coredns restart")
    client = bearer_client(world.trio.operator)

    found = client.get("/api/v1/conversations/", {"q": "checkout"}).json()["results"]
    assert [c["id"] for c in found] == [str(world.conversation.pk)]
    found = client.get("/api/v1/conversations/", {"q": "dns"}).json()["results"]
    assert [c["id"] for c in found] == [str(other.pk)]
    assert bearer_client(world.trio.outsider).get("/api/v1/conversations/", {"q": "checkout"}).json()["results"] == []


def test_it_pages_by_latest_activity(world):
    client = bearer_client(world.trio.operator)
    for i in range(3):
        Conversation.objects.create(org=world.org, cluster=world.cluster, owner=world.trio.operator, title=f"c{i}")
    first = client.get("/api/v1/conversations/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    titles = [c["title"] for c in first["results"] + second["results"]]
    assert titles == ["c2", "c1", "c0", "Scale web"]
    assert second["next"] is None
