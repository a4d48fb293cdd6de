"""Finding 14: a password change or reset left the user's open WebSockets streaming. It closes them (4401)."""

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from chats.consumers import CLOSE_UNAUTHENTICATED
from chats.tests.conftest import access_token, ws_communicator
from tests.accounts import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _change_password(user, token):
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = {"current_password": PASSWORD, "new_password": "a brand new passphrase 42"}
    return client.post("/api/v1/auth/password/", body, format="json").status_code


async def test_finding_14_password_change_closes_open_websockets(world):
    operator = world.trio.operator
    token = await sync_to_async(access_token)(operator)
    communicator = ws_communicator(world.conversation.pk, token=token)
    connected, _ = await communicator.connect()
    assert connected
    try:
        assert await sync_to_async(_change_password)(operator, token) == 200
        closed = await communicator.receive_output(4)
    finally:
        await communicator.disconnect()
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}

    again = ws_communicator(world.conversation.pk, token=token)  # the old token opens nothing new
    await again.connect()
    assert (await again.receive_output(2))["code"] == CLOSE_UNAUTHENTICATED
    await again.disconnect()
