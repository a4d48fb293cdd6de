"""The chat pages: who may open a conversation, what the page tells the browser, persisted text stays inert."""

import json

import pytest
from django.test import Client
from guardian.shortcuts import assign_perm

from chats.models import Conversation, Message
from tests.accounts import make_cluster

pytestmark = pytest.mark.django_db

XSS = "<img src=x onerror=alert(1)><script>alert(2)</script>"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def conversation(trio):
    cluster = make_cluster(trio.org, is_sandbox=True)
    conv = Conversation.objects.create(org=trio.org, cluster=cluster, owner=trio.operator, title=f"t {XSS}")
    Message.objects.create(conversation=conv, role="user", author=trio.operator, content=XSS)
    return conv


def page_data(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="page-data" type="application/json">') + len(
        '<script id="page-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_it_sends_anonymous_visitors_to_login(conversation):
    response = Client().get(f"/c/{conversation.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_hides_a_conversation_from_outsiders_and_other_members(trio, conversation):
    assert client_for(trio.outsider).get(f"/c/{conversation.pk}/").status_code == 404
    assert client_for(trio.viewer).get(f"/c/{conversation.pk}/").status_code == 404


def test_it_shows_the_owner_their_conversation_escaped(trio, conversation):
    response = client_for(trio.operator).get(f"/c/{conversation.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    data = page_data(response)
    assert data["messages"][0]["content"] == XSS
    assert data["can_ask"] is False  # the operator holds no grant on the cluster
    assert data["can_decide"] is False


def test_it_tells_the_page_who_may_decide(trio, conversation):
    assign_perm("chats.view_conversation", trio.viewer, conversation)
    assign_perm("orgs.operate_cluster", trio.operator, conversation.cluster)
    assert page_data(client_for(trio.operator).get(f"/c/{conversation.pk}/"))["can_decide"] is True
    assert page_data(client_for(trio.viewer).get(f"/c/{conversation.pk}/"))["can_decide"] is False


def test_it_shows_the_sandbox_and_no_llm_banners(trio, conversation, settings):
    settings.LLM_BASE_URL = None
    settings.LLM_API_KEY = None
    html = client_for(trio.operator).get(f"/c/{conversation.pk}/").content.decode()
    assert "No LLM configured" in html
    assert "Sandbox cluster (simulated)" in html
    settings.LLM_BASE_URL = "http://127.0.0.1:1/v1"
    conversation.cluster.is_sandbox = False
    conversation.cluster.save()
    settings.SANDBOX_CLUSTER = False
    html = client_for(trio.operator).get(f"/c/{conversation.pk}/").content.decode()
    assert "No LLM configured" not in html
    assert "Sandbox cluster (simulated)" not in html


def test_it_lists_my_conversations_in_the_sidebar_and_searches(trio, conversation):
    client = client_for(trio.operator)
    html = client.get("/").content.decode()
    assert f"/c/{conversation.pk}/" in html
    assert "Today" in html
    assert f"/c/{conversation.pk}/" not in client.get("/?q=nothingmatcheszzz").content.decode()
    assert f"/c/{conversation.pk}/" not in client_for(trio.viewer).get("/").content.decode()
