import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from chats import consumers
from chats.deltas import DeltaStream
from chats.publisher import aevent_publish
from chats.tests.conftest import access_token, ws_communicator, ws_frames

pytestmark = pytest.mark.django_db(transaction=True)

RUN = "5d1c0000-0000-4000-8000-000000000002"


async def _produce(conversation_id, steps: int) -> None:
    """A run that publishes step events and streams tokens, as the workflow does."""
    await aevent_publish(conversation_id=conversation_id, run_id=RUN, type="run.started", data={})
    for step in range(steps):
        await aevent_publish(
            conversation_id=conversation_id, run_id=RUN, type="step.started", data={"step_id": f"s{step}"}
        )
        stream = DeltaStream(conversation_id=conversation_id, run_id=RUN, message_id="m1", agent="responder")
        for i in range(10):
            await stream.push(f"{step}.{i} ")
            await asyncio.sleep(0.001)
        await stream.close()
    await aevent_publish(conversation_id=conversation_id, run_id=RUN, type="run.finished", data={"status": "succeeded"})


async def _receive_until_finished(communicator) -> list[dict]:
    frames = []
    while not frames or frames[-1]["type"] != "run.finished":
        frames.append(json.loads(await communicator.receive_from(10)))
    return frames


async def test_it_resumed_client_ends_with_the_always_connected_sequence(world):
    conversation_id = world.conversation.pk
    token = await sync_to_async(access_token)(world.trio.operator)
    steady = ws_communicator(conversation_id, token=token)
    flaky = ws_communicator(conversation_id, token=token)
    resumed = ws_communicator(conversation_id, token=token)
    assert (await steady.connect())[0]
    assert (await flaky.connect())[0]
    try:
        producer = asyncio.create_task(_produce(conversation_id, steps=8))
        seen = await ws_frames(flaky, 5)
        await flaky.disconnect()
        await asyncio.sleep(0.05)  # the run goes on while the client is away
        assert (await resumed.connect())[0]
        await resumed.send_json_to({"type": "resume", "after": seen[-1]["seq"]})
        after_resume = await _receive_until_finished(resumed)
        await producer
        always = await _receive_until_finished(steady)
    finally:
        await steady.disconnect()
        await resumed.disconnect()

    assert [f["seq"] for f in always] == sorted({f["seq"] for f in always})
    assert seen + after_resume == always


async def test_frames_published_between_the_handshake_and_the_resume_arrive_after_the_replay_once(world):
    conversation_id = world.conversation.pk
    await aevent_publish(conversation_id=conversation_id, run_id=RUN, type="run.started", data={})  # seq 1
    token = await sync_to_async(access_token)(world.trio.operator)
    client = ws_communicator(conversation_id, token=token)
    assert (await client.connect())[0]
    try:
        # The run goes on while the client's resume is on its way: seqs 2 and 3 are published live.
        for step in ("s1", "s2"):
            await aevent_publish(
                conversation_id=conversation_id, run_id=RUN, type="step.started", data={"step_id": step}
            )
        await asyncio.sleep(0.1)  # a resume that takes a moment to arrive (well within RESUME_GRACE_S)
        await client.send_json_to({"type": "resume", "after": 0})
        frames = await ws_frames(client, 3)
        await aevent_publish(
            conversation_id=conversation_id, run_id=RUN, type="run.finished", data={"status": "succeeded"}
        )
        frames += await ws_frames(client, 1)
        assert await client.receive_nothing(0.3)
    finally:
        await client.disconnect()

    assert [(f["seq"], f["type"]) for f in frames] == [
        (1, "run.started"), (2, "step.started"), (3, "step.started"), (4, "run.finished")
    ]  # fmt: skip


async def test_a_client_that_never_resumes_on_a_new_conversation_gets_live_frames_at_once_and_never_twice(
    world, monkeypatch
):
    # Not the grace period (made endless here): the conversation had no event at the handshake, so nothing a
    # replay could put behind a live frame.
    monkeypatch.setattr(consumers, "RESUME_GRACE_S", 3600)
    conversation_id = world.conversation.pk
    token = await sync_to_async(access_token)(world.trio.operator)
    client = ws_communicator(conversation_id, token=token)
    assert (await client.connect())[0]
    try:
        await aevent_publish(conversation_id=conversation_id, run_id=RUN, type="run.started", data={})
        await aevent_publish(conversation_id=conversation_id, run_id=RUN, type="step.started", data={"step_id": "s1"})
        frames = await ws_frames(client, 2)
        # A resume that comes after live frames (a slow client) repeats none of them.
        await client.send_json_to({"type": "resume", "after": 0})
        await aevent_publish(
            conversation_id=conversation_id, run_id=RUN, type="run.finished", data={"status": "succeeded"}
        )
        frames += await ws_frames(client, 1)
        assert await client.receive_nothing(0.3)
    finally:
        await client.disconnect()

    assert [(f["seq"], f["type"]) for f in frames] == [(1, "run.started"), (2, "step.started"), (3, "run.finished")]


async def test_on_a_conversation_with_history_live_frames_wait_for_the_resume_and_follow_its_replay(world, monkeypatch):
    monkeypatch.setattr(consumers, "RESUME_GRACE_S", 3600)
    conversation_id = world.conversation.pk
    await aevent_publish(conversation_id=conversation_id, run_id=RUN, type="run.started", data={})  # seq 1
    token = await sync_to_async(access_token)(world.trio.operator)
    client = ws_communicator(conversation_id, token=token)
    assert (await client.connect())[0]
    try:
        await aevent_publish(conversation_id=conversation_id, run_id=RUN, type="step.started", data={"step_id": "s1"})
        assert await client.receive_nothing(0.3)  # held: a resume may still ask for seq 1 first
        await client.send_json_to({"type": "resume", "after": 0})
        frames = await ws_frames(client, 2)
    finally:
        await client.disconnect()

    assert [(f["seq"], f["type"]) for f in frames] == [(1, "run.started"), (2, "step.started")]
