import pytest
from django.core.exceptions import ValidationError

from chats.events import EventInvalid
from chats.models import RunEvent
from chats.publisher import event_publish
from chats.services import message_content_validate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("type_", "data"),
    [
        ("run.exploded", {}),
        ("tool.call", {"call_id": "c1", "tool": "k8s_get"}),
        ("message.delta", {"message_id": "m1", "agent": "planner", "text": 3}),
        ("run.finished", {"status": "maybe"}),
    ],
)
def test_it_refuses_an_unknown_type_or_malformed_payload(world, type_, data):
    with pytest.raises(EventInvalid):
        event_publish(conversation_id=world.conversation.pk, run_id=None, type=type_, data=data)
    assert not RunEvent.objects.exists()
    world.conversation.refresh_from_db()
    assert world.conversation.last_seq == 0


def test_it_numbers_events_per_conversation(world):
    events = [
        event_publish(conversation_id=world.conversation.pk, run_id=None, type="step.started", data={"step_id": "a"})
        for _ in range(3)
    ]
    assert [e.seq for e in events] == [1, 2, 3]
    world.conversation.refresh_from_db()
    assert world.conversation.last_seq == 3


def test_it_names_the_message_length_limit(settings):
    settings.MAX_MESSAGE_CHARS = 10
    assert message_content_validate("  scale web  ") == "scale web"
    with pytest.raises(ValidationError, match="the limit is 10"):
        message_content_validate("x" * 11)
    with pytest.raises(ValidationError):
        message_content_validate("   ")
