from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken

from chats.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from chats.tests.conftest import access_token, group_remove, ws_communicator
from orgs.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


async def _open(world, token):
    communicator = ws_communicator(world.conversation.pk, token=token)
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_nothing(0.1)
    return communicator


async def test_it_closes_the_socket_of_a_user_removed_from_the_sharing_team(world):
    communicator = await _open(world, await sync_to_async(access_token)(world.teammate))
    try:
        await sync_to_async(group_remove)(world.team.group, world.teammate)
        closed = await communicator.receive_output(4)
    finally:
        await communicator.disconnect()
    assert closed == {"type": "websocket.close", "code": CLOSE_FORBIDDEN}


async def test_it_closes_the_socket_when_the_membership_is_revoked(world):
    communicator = await _open(world, await sync_to_async(access_token)(world.trio.operator))
    try:
        await sync_to_async(Membership.objects.filter(user=world.trio.operator).delete)()
        closed = await communicator.receive_output(4)
    finally:
        await communicator.disconnect()
    assert closed == {"type": "websocket.close", "code": CLOSE_FORBIDDEN}


async def test_it_closes_the_socket_when_the_account_is_disabled(world):
    communicator = await _open(world, await sync_to_async(access_token)(world.trio.operator))
    try:
        users = get_user_model().objects.filter(pk=world.trio.operator.pk)
        operator = await sync_to_async(users.get)()
        operator.is_active = False
        await sync_to_async(operator.save)()
        closed = await communicator.receive_output(4)
    finally:
        await communicator.disconnect()
    assert closed == {"type": "websocket.close", "code": CLOSE_FORBIDDEN}


async def test_it_closes_the_socket_when_the_token_expires(world):
    def short_token():
        token = AccessToken.for_user(world.trio.operator)
        token.set_exp(lifetime=timedelta(seconds=2))
        return str(token)

    communicator = await _open(world, await sync_to_async(short_token)())
    try:
        closed = await communicator.receive_output(6)
    finally:
        await communicator.disconnect()
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
