"""/orgs/{slug}/model/: an admin points the organisation's runs at its own model; the key is write-only and stored
encrypted; "test connection" makes one tiny request and reports what the endpoint supports."""

import pytest

from orgs.models import AuditEvent, ModelConnection, Role
from orgs.tests.matrix import as_role, assert_refused
from tests.scripted_llm import fail, say

KEY = "sk-org-secret-4242"


def _url(trio, tail: str = "") -> str:
    return f"/api/v1/orgs/{trio.org.slug}/model/{tail}"


def _rows(trio):
    return list(ModelConnection.objects.filter(org=trio.org).values())


def _body(**changes) -> dict:
    return {"base_url": "https://llm.example.com/v1", "model": "gpt-4.1-mini", "api_key": KEY} | changes


def test_it_shows_the_environment_default_without_its_address(trio, settings):
    settings.LLM_BASE_URL, settings.LLM_MODEL = "http://10.1.2.3:8000/v1", "env-model"
    assert_refused(trio, "get", _url(trio), min_role=Role.ADMIN)

    response = as_role(trio, "admin").get(_url(trio))

    assert response.status_code == 200
    assert response.json() | {"has_api_key": None} == {
        "source": "environment",
        "base_url": None,
        "model": "env-model",
        "api_version": None,
        "has_api_key": None,
        "updated_at": None,
    }
    assert b"10.1.2.3" not in response.content


def test_it_sets_the_model_for_admins_with_a_write_only_encrypted_key(trio):
    assert_refused(trio, "put", _url(trio), min_role=Role.ADMIN, data=_body(), snapshot=lambda: _rows(trio))

    response = as_role(trio, "admin").put(_url(trio), _body(api_version="2024-10-21"), format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["source"], body["model"], body["api_version"], body["has_api_key"]) == (
        "organisation",
        "gpt-4.1-mini",
        "2024-10-21",
        True,
    )
    assert KEY.encode() not in response.content
    connection = ModelConnection.objects.get(org=trio.org)
    assert connection.api_key == KEY
    assert KEY not in connection.api_key_encrypted
    assert KEY.encode() not in as_role(trio, "owner").get(_url(trio)).content
    audit = AuditEvent.objects.get(action="model_connection.updated", org=trio.org)
    assert KEY not in str(audit.data)


def test_it_asks_for_the_key_again_when_the_address_changes(trio):
    admin = as_role(trio, "admin")
    assert admin.put(_url(trio), _body(), format="json").status_code == 200

    same_host = admin.put(_url(trio), {"base_url": "https://llm.example.com/v1", "model": "gpt-4.1"}, format="json")
    moved = admin.put(_url(trio), {"base_url": "https://evil.example.net/v1", "model": "gpt-4.1"}, format="json")

    assert same_host.status_code == 200
    assert moved.status_code == 400
    assert "api_key" in moved.json()
    connection = ModelConnection.objects.get(org=trio.org)
    assert (connection.base_url, connection.model, connection.api_key) == ("https://llm.example.com/v1", "gpt-4.1", KEY)


def test_it_goes_back_to_the_environment_model(trio):
    as_role(trio, "admin").put(_url(trio), _body(), format="json")
    assert_refused(trio, "delete", _url(trio), min_role=Role.ADMIN, snapshot=lambda: _rows(trio))

    response = as_role(trio, "owner").delete(_url(trio))

    assert response.status_code == 204
    assert _rows(trio) == []
    assert as_role(trio, "admin").get(_url(trio)).json()["source"] == "environment"


@pytest.mark.parametrize("refused", [False, True])
def test_it_tests_the_connection_and_reports_what_the_endpoint_supports(trio, schema_llm, refused):
    schema_llm.configure(refuse=["json_schema"] if refused else [])
    as_role(trio, "admin").put(_url(trio), _body(base_url=schema_llm.base_url, model="m"), format="json")
    assert_refused(trio, "post", _url(trio, "test/"), min_role=Role.ADMIN)

    response = as_role(trio, "admin").post(_url(trio, "test/"))

    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "streaming": True,
        "tools": True,
        "json_schema": not refused,
        "detail": "Connected to m.",
    }
    sent = schema_llm.requests()
    assert sent[0]["stream"] is True
    assert sent[0]["tools"][0]["function"]["name"] == "noop"
    assert len(sent) == (2 if refused else 1)


def test_it_says_in_a_sentence_why_the_connection_failed(trio, scripted_llm):
    scripted_llm.set_script([fail(401, message="Incorrect API key provided: sk-org-***42 at 10.9.9.9")])
    as_role(trio, "admin").put(_url(trio), _body(base_url=scripted_llm.base_url), format="json")

    response = as_role(trio, "admin").post(_url(trio, "test/"))

    assert response.status_code == 200
    result = response.json()
    assert result["ok"] is False
    assert "model connection" in result["detail"]
    assert "10.9.9.9" not in result["detail"]
    assert scripted_llm.base_url not in result["detail"]


def test_it_reports_an_endpoint_that_takes_no_tools(trio, scripted_llm):
    refusal = "tools are not supported by this model"
    scripted_llm.set_script([fail(400, message=refusal), say('{"ok": true}')])
    as_role(trio, "admin").put(_url(trio), _body(base_url=scripted_llm.base_url, model="tiny"), format="json")

    result = as_role(trio, "admin").post(_url(trio, "test/")).json()

    assert (result["ok"], result["tools"], result["json_schema"]) == (True, False, True)
