import pytest
from django.contrib.contenttypes.models import ContentType
from guardian.models import GroupObjectPermission

from chats.models import Conversation, Message, RunEvent
from chats.publisher import event_publish
from chats.signals import conversation_deleted
from tests.accounts import bearer_client

pytestmark = pytest.mark.django_db


def test_it_hides_the_conversation_drops_events_and_shares_then_announces_it(world, django_capture_on_commit_callbacks):
    conversation = world.conversation
    Message.objects.create(conversation=conversation, role="user", content="scale web")
    event_publish(conversation_id=conversation.pk, run_id=None, type="run.queued", data={})
    announced = []

    def receiver(sender, conversation_id, **kwargs):
        announced.append(conversation_id)

    conversation_deleted.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = bearer_client(world.trio.operator).delete(f"/api/v1/conversations/{conversation.pk}/")
    finally:
        conversation_deleted.disconnect(receiver)

    assert response.status_code == 204
    assert announced == [conversation.pk]
    assert Conversation.objects.get(pk=conversation.pk).deleted_at is not None  # hidden; the trail stays
    assert bearer_client(world.trio.operator).get(f"/api/v1/conversations/{conversation.pk}/").status_code == 404
    assert Message.objects.filter(conversation_id=conversation.pk).count() == 1
    assert not RunEvent.objects.filter(conversation_id=conversation.pk).exists()
    content_type = ContentType.objects.get_for_model(Conversation)
    assert not GroupObjectPermission.objects.filter(content_type=content_type, object_pk=str(conversation.pk)).exists()
