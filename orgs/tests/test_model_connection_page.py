"""Settings → Model: only admins and owners see it and change the organisation's model; the key is never shown; a
connection test of an address that is not the stored one never carries the stored key."""

import httpx
import pytest
from django.test import Client

from orgs.models import ModelConnection
from orgs.tests.matrix import as_role
from tests.provider_llm import provider_server

KEY = "sk-page-secret-7777"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _page(trio) -> str:
    return f"/orgs/{trio.org.slug}/settings/model/"


def test_it_shows_the_page_to_admins_only(trio):
    for user in (trio.owner, trio.admin):
        assert client_for(user).get(_page(trio)).status_code == 200
    for user in (trio.operator, trio.viewer):
        assert client_for(user).get(_page(trio)).status_code == 403
    assert client_for(trio.outsider).get(_page(trio)).status_code == 404
    assert Client().get(_page(trio)).status_code == 302


def test_it_saves_the_connection_and_never_shows_the_key(trio):
    form = {"action": "save", "base_url": "https://llm.example.com/v1", "model": "gpt-4.1", "api_key": KEY}

    refused = client_for(trio.operator).post(_page(trio), form)
    saved = client_for(trio.admin).post(_page(trio), form)

    assert refused.status_code == 403
    assert saved.status_code == 302
    connection = ModelConnection.objects.get(org=trio.org)
    assert (connection.model, connection.api_key) == ("gpt-4.1", KEY)
    page = client_for(trio.admin).get(_page(trio))
    assert b"gpt-4.1" in page.content
    assert KEY.encode() not in page.content
    client_for(trio.admin).post(_page(trio), {"action": "reset"})
    assert not ModelConnection.objects.filter(org=trio.org).exists()


@pytest.fixture
def provider():
    server = provider_server().start()
    yield server.url
    server.stop()


def test_a_connection_test_of_another_address_never_carries_the_stored_key(trio, provider):
    as_role(trio, "admin").put(
        f"/api/v1/orgs/{trio.org.slug}/model/",
        {"base_url": "https://llm.example.com/v1", "model": "m", "api_key": KEY},
        format="json",
    )
    httpx.post(f"{provider}/p/t/_setup", json={"dialect": "openai", "replies": [{"content": '{"ok": true}'}]})

    result = as_role(trio, "admin").post(
        f"/api/v1/orgs/{trio.org.slug}/model/test/", {"base_url": f"{provider}/p/t/v1"}, format="json"
    )

    assert result.json()["ok"] is True
    sent = httpx.get(f"{provider}/p/t/_requests").json()
    assert KEY not in str(sent)
