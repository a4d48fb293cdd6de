import pytest
from asgiref.sync import sync_to_async

from chats.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from chats.tests.conftest import access_token, ws_communicator
from tests.accounts import make_member

pytestmark = pytest.mark.django_db(transaction=True)


async def _close_code(communicator) -> int | None:
    connected, _ = await communicator.connect()
    try:
        if not connected:
            return None
        return (await communicator.receive_output(5)).get("code")
    finally:
        await communicator.disconnect()


async def test_it_refuses_a_user_of_another_org(world):
    token = await sync_to_async(access_token)(world.trio.outsider)
    assert await _close_code(ws_communicator(world.conversation.pk, token=token)) == CLOSE_NOT_FOUND


async def test_it_refuses_a_member_the_conversation_is_not_shared_with(world):
    token = await sync_to_async(access_token)(world.trio.admin)
    assert await _close_code(ws_communicator(world.conversation.pk, token=token)) == CLOSE_NOT_FOUND


async def test_it_refuses_an_anonymous_client(world):
    assert await _close_code(ws_communicator(world.conversation.pk)) == CLOSE_UNAUTHENTICATED


async def test_it_refuses_a_forged_token(world):
    token = await sync_to_async(access_token)(world.trio.operator)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert await _close_code(ws_communicator(world.conversation.pk, token=forged)) == CLOSE_UNAUTHENTICATED


async def test_it_refuses_a_token_in_the_query_string(world):
    token = await sync_to_async(access_token)(world.trio.operator)
    communicator = ws_communicator(world.conversation.pk, query=f"token={token}")
    assert await _close_code(communicator) == CLOSE_UNAUTHENTICATED
    # Even alongside valid subprotocol credentials: a token in the URL is a leak we do not reward.
    communicator = ws_communicator(world.conversation.pk, token=token, query=f"access_token={token}")
    assert await _close_code(communicator) == CLOSE_UNAUTHENTICATED
    communicator = ws_communicator(world.conversation.pk, token=token, query=f"x={token}")
    assert await _close_code(communicator) == CLOSE_UNAUTHENTICATED


async def test_it_refuses_a_foreign_origin(world):
    token = await sync_to_async(access_token)(world.trio.operator)
    communicator = ws_communicator(world.conversation.pk, token=token, origin=b"https://evil.example")
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    assert not connected


async def test_it_refuses_a_missing_origin(world):
    token = await sync_to_async(access_token)(world.trio.operator)
    communicator = ws_communicator(world.conversation.pk, token=token, origin=None)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    assert not connected


async def test_it_refuses_a_disabled_user(world):
    user = await sync_to_async(make_member)(world.org)
    token = await sync_to_async(access_token)(user)
    user.is_active = False
    await sync_to_async(user.save)()
    assert await _close_code(ws_communicator(world.conversation.pk, token=token)) == CLOSE_UNAUTHENTICATED
