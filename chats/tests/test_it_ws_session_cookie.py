import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from chats.publisher import aevent_publish
from skyflo.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.mark.parametrize(("who", "expected"), [("teammate", "frame"), ("admin", 4404)])
async def test_it_authenticates_by_the_session_cookie(world, who, expected):
    user = world.teammate if who == "teammate" else world.trio.admin
    cookie = await sync_to_async(_session_cookie)(user)
    headers = [
        (b"host", b"127.0.0.1"),
        (b"origin", b"http://127.0.0.1"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
    ]
    communicator = WebsocketCommunicator(application, f"/ws/conversations/{world.conversation.pk}/", headers=headers)
    connected, _ = await communicator.connect()
    try:
        assert connected
        await aevent_publish(conversation_id=world.conversation.pk, run_id=None, type="run.queued", data={})
        output = await communicator.receive_output(5)
    finally:
        await communicator.disconnect()
    if expected == "frame":
        assert json.loads(output["text"])["type"] == "run.queued"
    else:
        assert output == {"type": "websocket.close", "code": expected}
