import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from chats.deltas import DeltaStream
from chats.models import Conversation, RunEvent
from chats.publisher import aevent_publish
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


async def test_it_batches_many_streams_and_keeps_each_streams_text_and_order(world):
    conversations = [world.conversation] + [
        await sync_to_async(Conversation.objects.create)(
            org=world.org, cluster=world.cluster, owner=world.trio.operator, title=f"c{i}"
        )
        for i in range(11)
    ]
    tokens = [f"t{i} " for i in range(40)]

    async def stream_tokens(conversation, agent):
        stream = DeltaStream(conversation_id=conversation.pk, run_id=RUN, message_id=agent, agent=agent)
        for token in tokens:
            await stream.push(token)
            await asyncio.sleep(0.002)
        await stream.close()
        return stream.frames

    # Twelve conversations at once, one of them with two messages streaming side by side.
    frames = await asyncio.gather(
        *(stream_tokens(conversation, "responder") for conversation in conversations),
        stream_tokens(world.conversation, "planner"),
    )

    for conversation in conversations:
        logged = await sync_to_async(list)(
            RunEvent.objects.filter(conversation=conversation).order_by("seq").values_list("seq", "data")
        )
        assert [seq for seq, _ in logged] == list(range(1, len(logged) + 1))
        for agent in ("responder", "planner") if conversation == world.conversation else ("responder",):
            text = "".join(data["text"] for _, data in logged if data["agent"] == agent)
            assert text == "".join(tokens)
    assert sum(frames) < 13 * len(tokens)  # under load, tokens share frames


async def test_it_fails_only_the_stream_whose_conversation_is_gone(world):
    other = await sync_to_async(Conversation.objects.create)(
        org=world.org, cluster=world.cluster, owner=world.trio.operator, title="other"
    )
    doomed = DeltaStream(conversation_id=other.pk, run_id=RUN, message_id="m1", agent="responder")
    alive = DeltaStream(conversation_id=world.conversation.pk, run_id=RUN, message_id="m2", agent="responder")
    await doomed.push("a ")
    await alive.push("a ")
    await doomed.flush()
    await alive.flush()
    await sync_to_async(other.delete)()

    await doomed.push("b ")
    await alive.push("b ")
    with pytest.raises(Conversation.DoesNotExist):
        await doomed.flush()
    await alive.close()

    logged = await sync_to_async(list)(
        RunEvent.objects.filter(conversation=world.conversation).order_by("seq").values_list("data", flat=True)
    )
    assert "".join(data["text"] for data in logged) == "a b "


async def test_a_steady_flow_of_other_events_does_not_hold_back_coalesced_tokens(world):
    others = [
        await sync_to_async(Conversation.objects.create)(
            org=world.org, cluster=world.cluster, owner=world.trio.operator, title=f"o{i}"
        )
        for i in range(2)
    ]
    streams = [
        DeltaStream(conversation_id=c.pk, run_id=RUN, message_id=f"m{i}", agent="responder")
        for i, c in enumerate(others)
    ]
    flowing = True

    async def tool_output_lines(call_id):
        line = 0
        while flowing:  # back to back: some event is always waiting for the next batch
            line += 1
            data = {"call_id": call_id, "stream": "stdout", "chunk": f"line {line}\n"}
            await aevent_publish(conversation_id=world.conversation.pk, run_id=RUN, type="tool.output", data=data)

    lines = asyncio.gather(*(tool_output_lines(f"c{i}") for i in range(3)))
    for i in range(60):  # two streams at once: the process is busy, tokens are coalesced per window
        for stream in streams:
            await stream.push(f"t{i} ")
        await asyncio.sleep(0.005)
    sent_before_close = await sync_to_async(RunEvent.objects.filter(type="message.delta").count)()
    for stream in streams:
        await stream.close()
    flowing = False
    await lines

    assert sent_before_close > 0
    for conversation in others:
        texts = await sync_to_async(list)(
            RunEvent.objects.filter(conversation=conversation).order_by("seq").values_list("data", flat=True)
        )
        assert "".join(t["text"] for t in texts) == "".join(f"t{i} " for i in range(60))


async def test_a_stream_that_ended_long_ago_does_not_make_the_next_one_wait(world):
    earlier = DeltaStream(conversation_id=world.conversation.pk, run_id=RUN, message_id="m1", agent="responder")
    await earlier.push("done ")
    await earlier.close()
    await asyncio.sleep(0.2)  # several idle windows

    stream = DeltaStream(conversation_id=world.conversation.pk, run_id=RUN, message_id="m2", agent="responder")
    for i in range(5):
        await stream.push(f"t{i} ")
        await asyncio.sleep(0.02)  # slower than a batch round trip: each token finds nothing in flight
    await stream.close()

    assert stream.frames == 5  # alone in the process: every token went out as it came
