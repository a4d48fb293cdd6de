"""Finding 26: a client could send `resume` frames without limit, each replaying the conversation's whole log.
A socket gets a small burst of resumes; one that keeps asking is closed with 4429."""

import json

import pytest
from asgiref.sync import sync_to_async

from chats.consumers import CLOSE_TOO_MANY, RESUME_BURST
from chats.publisher import event_publish
from chats.tests.conftest import access_token, ws_communicator

pytestmark = pytest.mark.django_db(transaction=True)


def _log(world, count):
    for n in range(count):
        event_publish(conversation_id=world.conversation.pk, run_id=None, type="run.queued", data={"n": n})


async def test_finding_26_resume_flood_closes_the_socket(world):
    await sync_to_async(_log)(world, 3)
    token = await sync_to_async(access_token)(world.trio.operator)
    communicator = ws_communicator(world.conversation.pk, token=token)
    connected, _ = await communicator.connect()
    assert connected
    try:
        for _ in range(RESUME_BURST * 4):
            await communicator.send_to(text_data=json.dumps({"type": "resume", "after": 0}))
        outputs = []
        while not outputs or outputs[-1]["type"] != "websocket.close":
            outputs.append(await communicator.receive_output(5))
    finally:
        await communicator.disconnect()
    frames = [json.loads(o["text"]) for o in outputs if o["type"] == "websocket.send"]
    assert outputs[-1] == {"type": "websocket.close", "code": CLOSE_TOO_MANY}
    # The first resumes were answered (each replays the log), the flood was not.
    assert [f["seq"] for f in frames[:3]] == [1, 2, 3]
    assert len(frames) < 3 * RESUME_BURST * 4
