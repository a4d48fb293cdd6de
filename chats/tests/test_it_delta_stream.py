import json

import pytest
from asgiref.sync import sync_to_async

from chats.models import RunEvent
from chats.publisher import DeltaStream, aevent_publish
from chats.tests.conftest import access_token, ws_communicator

pytestmark = pytest.mark.django_db(transaction=True)

RUN = "5d1c0000-0000-4000-8000-000000000004"


async def test_it_sends_a_lone_token_at_once_and_coalesces_a_burst(world):
    token = await sync_to_async(access_token)(world.trio.operator)
    communicator = ws_communicator(world.conversation.pk, token=token)
    assert (await communicator.connect())[0]
    stream = DeltaStream(conversation_id=world.conversation.pk, run_id=RUN, message_id="m1", agent="responder")
    try:
        await stream.push("Checking ")
        first = json.loads(await communicator.receive_from(5))  # no flush: nothing was in flight
        burst = [f"w{i} " for i in range(200)]
        for word in burst:
            await stream.push(word)
        await stream.close()
        await aevent_publish(
            conversation_id=world.conversation.pk, run_id=RUN, type="run.finished", data={"status": "succeeded"}
        )
        frames = [first]
        while frames[-1]["type"] != "run.finished":
            frames.append(json.loads(await communicator.receive_from(5)))
    finally:
        await communicator.disconnect()

    deltas = frames[:-1]
    assert first["data"] == {"message_id": "m1", "agent": "responder", "text": "Checking "}
    assert {f["type"] for f in deltas} == {"message.delta"}
    assert "".join(f["data"]["text"] for f in deltas) == "Checking " + "".join(burst)
    assert len(deltas) < 1 + len(burst)  # the burst arrived while a frame was in flight
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    logged = await sync_to_async(list)(RunEvent.objects.order_by("seq").values_list("type", flat=True))
    assert logged == [f["type"] for f in frames]
