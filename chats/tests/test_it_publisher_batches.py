"""aevent_publish from many coroutines at once: the loop's batcher numbers, stores and sends each event once."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from chats.events import EventInvalid
from chats.models import Conversation, RunEvent
from chats.publisher import aevent_publish
from chats.tests.conftest import access_token, ws_communicator

pytestmark = pytest.mark.django_db(transaction=True)

RUN = "5d1c0000-0000-4000-8000-000000000005"


async def _conversation(world, title):
    return await sync_to_async(Conversation.objects.create)(
        org=world.org, cluster=world.cluster, owner=world.trio.operator, title=title
    )


async def test_it_keeps_each_publishers_order_when_many_publish_at_once(world):
    conversations = [world.conversation] + [await _conversation(world, f"c{i}") for i in range(9)]
    token = await sync_to_async(access_token)(world.trio.operator)
    communicator = ws_communicator(world.conversation.pk, token=token)
    assert (await communicator.connect())[0]

    async def publish_steps(conversation, name):
        returned = []
        for i in range(5):
            event = await aevent_publish(
                conversation_id=conversation.pk, run_id=RUN, type="step.started", data={"step_id": f"{name}-{i}"}
            )
            returned.append(event.seq)
        return returned

    # Two publishers share the first conversation; every conversation gets 5 events from each of its publishers.
    jobs = [publish_steps(c, "a") for c in conversations] + [publish_steps(world.conversation, "b")]
    returned = await asyncio.gather(*jobs)
    frames = [json.loads(await communicator.receive_from(5)) for _ in range(10)]
    await communicator.disconnect()

    for conversation in conversations:
        logged = await sync_to_async(list)(
            RunEvent.objects.filter(conversation=conversation).order_by("seq").values_list("seq", "data")
        )
        assert [seq for seq, _ in logged] == list(range(1, len(logged) + 1))
        for name in ("a", "b") if conversation == world.conversation else ("a",):
            steps = [data["step_id"] for _, data in logged if data["step_id"].startswith(name)]
            assert steps == [f"{name}-{i}" for i in range(5)]
    assert sorted(returned[0] + returned[-1]) == list(range(1, 11))  # the seqs the callers got are the log's
    assert [f["seq"] for f in frames] == list(range(1, 11))
    assert {f["data"]["step_id"] for f in frames} == {f"{n}-{i}" for n in "ab" for i in range(5)}


async def test_a_deleted_conversation_fails_only_its_own_event_and_a_bad_event_is_refused_at_once(world):
    doomed = await _conversation(world, "doomed")
    doomed_id = doomed.pk
    await sync_to_async(doomed.delete)()

    results = await asyncio.gather(
        aevent_publish(conversation_id=doomed_id, run_id=RUN, type="step.started", data={"step_id": "x"}),
        aevent_publish(conversation_id=world.conversation.pk, run_id=RUN, type="step.started", data={"step_id": "y"}),
        return_exceptions=True,
    )
    with pytest.raises(EventInvalid):
        await aevent_publish(conversation_id=world.conversation.pk, run_id=RUN, type="step.started", data={})

    assert isinstance(results[0], Conversation.DoesNotExist)
    assert results[1].seq == 1
    logged = await sync_to_async(list)(RunEvent.objects.values_list("conversation_id", "seq"))
    assert logged == [(world.conversation.pk, 1)]
