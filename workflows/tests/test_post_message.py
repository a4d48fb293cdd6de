import pytest

from chats.models import Message, RunEvent
from tests.accounts import bearer_client
from workflows.models import Run

pytestmark = pytest.mark.django_db


def url(room) -> str:
    return f"/api/v1/conversations/{room.conversation.id}/messages/"


def test_it_posts_the_message_and_queues_a_run(room, django_capture_on_commit_callbacks):
    client = bearer_client(room.trio.operator)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url(room), {"content": "  scale web to 3  "}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    run = Run.objects.get(pk=body["run"]["id"])
    assert (run.status, run.requested_by, run.conversation) == ("queued", room.trio.operator, room.conversation)
    assert body["message"]["content"] == "scale web to 3"
    assert body["run"]["status"] == "queued"
    assert body["run"]["pending_approvals"] == []
    message = Message.objects.get(pk=body["message"]["id"])
    assert (message.role, message.run_id, run.message_id) == ("user", run.id, message.id)
    event = RunEvent.objects.get(conversation=room.conversation)
    assert (event.type, event.run_id) == ("run.queued", run.id)
    assert event.data == {"message_id": str(message.id), "requested_by": str(room.trio.operator.id)}
    assert len(callbacks) >= 1  # the dispatch waits for the commit


def test_it_lets_a_viewer_ask(room):
    response = bearer_client(room.trio.viewer).post(url(room), {"content": "what runs in shop?"}, format="json")
    assert response.status_code == 202, response.content


def test_it_hides_the_conversation_from_outsiders_and_requires_auth(room, anon_client):
    assert anon_client.post(url(room), {"content": "hi"}, format="json").status_code == 401
    assert bearer_client(room.trio.outsider).post(url(room), {"content": "hi"}, format="json").status_code == 404
    assert not Run.objects.exists()


def test_it_refuses_a_reader_who_may_not_ask(room):
    from guardian.shortcuts import remove_perm

    remove_perm("chats.ask_conversation", room.trio.viewer, room.conversation)
    response = bearer_client(room.trio.viewer).post(url(room), {"content": "hi"}, format="json")
    assert response.status_code == 403
    assert not Run.objects.exists()


def test_it_rejects_empty_content(room):
    response = bearer_client(room.trio.operator).post(url(room), {"content": "   "}, format="json")
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_it_refuses_a_second_run_in_the_same_conversation(room):
    room.run(status=Run.Status.AWAITING_APPROVAL)
    response = bearer_client(room.trio.operator).post(url(room), {"content": "again"}, format="json")
    assert response.status_code == 409
    assert Run.objects.count() == 1


def test_it_limits_concurrent_runs_per_user(room, settings):
    from chats.models import Conversation

    settings.MAX_CONCURRENT_RUNS_PER_USER = 1
    other = Conversation.objects.create(org=room.trio.org, cluster=room.cluster, owner=room.trio.operator)
    Run.objects.create(conversation=other, requested_by=room.trio.operator, status=Run.Status.RUNNING)
    response = bearer_client(room.trio.operator).post(url(room), {"content": "hi"}, format="json")
    assert response.status_code == 429
    assert Run.objects.count() == 1


def test_it_still_lists_the_history(room):
    room.run()
    response = bearer_client(room.trio.viewer).get(url(room))
    assert response.status_code == 200
    assert [m["content"] for m in response.json()["results"]] == ["hi"]
