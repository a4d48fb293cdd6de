"""Finding 19: the WebSocket Origin check compared host names only, so a page on another port of the same host
(or served over plain http) could open a signed-in user's sockets. Scheme, host and port must all match."""

import pytest
from asgiref.sync import sync_to_async

from chats.tests.conftest import access_token, ws_communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def _connects(world, origin: bytes) -> bool:
    token = await sync_to_async(access_token)(world.trio.operator)
    communicator = ws_communicator(world.conversation.pk, token=token, origin=origin)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.mark.parametrize(
    "origin",
    [b"http://127.0.0.1:8081", b"https://127.0.0.1", b"http://127.0.0.1:80.evil", b"ftp://127.0.0.1", b"null"],
)
async def test_finding_19_origin_must_match_scheme_host_and_port(world, origin):
    assert not await _connects(world, origin)


async def test_finding_19_same_origin_and_trusted_origins_connect(world, settings):
    assert await _connects(world, b"http://127.0.0.1")
    assert await _connects(world, b"http://127.0.0.1:80")
    settings.CSRF_TRUSTED_ORIGINS = ["https://console.example.com"]
    assert await _connects(world, b"https://console.example.com")
    assert not await _connects(world, b"http://console.example.com")
