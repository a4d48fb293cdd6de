import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from chats.event_log import NewEvent, event_persist
from chats.models import RunEvent
from chats.publisher import aevent_publish, event_publish
from chats.tests.conftest import access_token, ws_communicator, ws_frames

pytestmark = pytest.mark.django_db(transaction=True)


async def test_it_relays_events_in_seq_order_with_the_envelope(world):
    run_id = "5d1c0000-0000-4000-8000-000000000001"
    token = await sync_to_async(access_token)(world.trio.operator)
    communicator = ws_communicator(world.conversation.pk, token=token)
    connected, subprotocol = await communicator.connect()
    try:
        assert connected
        assert subprotocol == "skyflo.v1"
        await aevent_publish(conversation_id=world.conversation.pk, run_id=run_id, type="run.queued", data={})
        await sync_to_async(event_publish)(
            conversation_id=world.conversation.pk, run_id=run_id, type="step.started", data={"step_id": "s1"}
        )
        for i in range(20):
            data = {"message_id": "m1", "agent": "responder", "text": f"t{i} "}
            await aevent_publish(conversation_id=world.conversation.pk, run_id=run_id, type="message.delta", data=data)
        frames = await ws_frames(communicator, 22)
    finally:
        await communicator.disconnect()

    assert [f["seq"] for f in frames] == list(range(1, 23))
    assert frames[0] == {"type": "run.queued", "seq": 1, "run": run_id, "ts": frames[0]["ts"], "data": {}}
    assert frames[1]["data"] == {"step_id": "s1"}
    assert "".join(f["data"]["text"] for f in frames[2:]) == "".join(f"t{i} " for i in range(20))
    logged = await sync_to_async(list)(RunEvent.objects.filter(conversation=world.conversation).values_list("seq"))
    assert [seq for (seq,) in logged] == list(range(1, 23))


def _log_without_frame(conversation_id, run_id) -> None:
    """What a failed group send leaves behind: the event is in the log, its frame never left."""
    with transaction.atomic():
        new = NewEvent(
            conversation_id=conversation_id, run_id=run_id, type="run.finished", data={"status": "succeeded"}
        )
        event_persist(new, timezone.now())


async def test_an_event_whose_frame_was_lost_reaches_the_open_socket_without_a_reconnect(world, settings):
    settings.WS_ACCESS_RECHECK_S = 0.3
    run_id = "5d1c0000-0000-4000-8000-000000000006"
    token = await sync_to_async(access_token)(world.trio.operator)
    communicator = ws_communicator(world.conversation.pk, token=token)
    assert (await communicator.connect())[0]
    try:
        await aevent_publish(conversation_id=world.conversation.pk, run_id=run_id, type="run.queued", data={})
        first = json.loads(await communicator.receive_from(5))
        await sync_to_async(_log_without_frame)(world.conversation.pk, uuid.UUID(run_id))
        last = json.loads(await communicator.receive_from(5))  # no later frame follows to trigger a gap fill
    finally:
        await communicator.disconnect()

    assert (first["seq"], first["type"]) == (1, "run.queued")
    assert (last["seq"], last["type"], last["data"]) == (2, "run.finished", {"status": "succeeded"})
