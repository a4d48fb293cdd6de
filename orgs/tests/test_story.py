"""The whole onboarding story through the HTTP API only."""

import json

from rest_framework.test import APIClient

from tests.accounts import PASSWORD

API = "/api/v1"


def _bearer(email: str) -> APIClient:
    client = APIClient()
    response = client.post(f"{API}/auth/token/", {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def test_it_onboards_an_operator_who_sees_only_the_granted_cluster(db):
    anon = APIClient()
    seen = []  # every response body, to prove the MCP token never leaves the server
    response = anon.post(f"{API}/auth/register/", {"email": "alice@acme.io", "password": PASSWORD}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["orgs"] == ["acme-io"]
    alice = _bearer("alice@acme.io")
    org = f"{API}/orgs/acme-io"
    assert alice.get(f"{org}/").json()["role"] == "owner"

    team = alice.post(f"{org}/teams/", {"name": "payments"}, format="json").json()
    clusters = {}
    for name, token in (("staging", "staging-secret-token"), ("prod", "prod-secret-token")):
        body = {"name": name, "mcp_server_url": f"http://{name}.internal/mcp", "mcp_server_token": token}
        response = alice.post(f"{org}/clusters/", body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["has_token"] is True
        seen.append(response.content)
        clusters[name] = response.json()["id"]

    invite = {"email": "bob@acme.io", "role": "operator", "teams": [team["id"]]}
    response = alice.post(f"{org}/invitations/", invite, format="json")
    assert response.status_code == 201, response.content
    token = response.json()["token"]

    register = {"email": "bob@acme.io", "password": PASSWORD, "full_name": "Bob", "invitation": token}
    response = anon.post(f"{API}/auth/register/", register, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["orgs"] == ["acme-io"]
    bob = _bearer("bob@acme.io")
    assert bob.post(f"{API}/invitations/{token}/accept/").status_code == 409  # single use

    grant = {"team": team["id"], "permission": "use_cluster"}
    response = alice.post(f"{org}/clusters/{clusters['staging']}/grants/", grant, format="json")
    assert response.status_code == 201, response.content

    me = bob.get(f"{API}/auth/me/").json()
    members = alice.get(f"{org}/teams/{team['id']}/members/").json()["results"]
    assert [m["email"] for m in members] == ["bob@acme.io"]
    assert [m["role"] for m in alice.get(f"{org}/members/").json()["results"] if m["user"]["id"] == me["id"]] == [
        "operator"
    ]
    listing = bob.get(f"{org}/clusters/")
    assert [c["name"] for c in listing.json()["results"]] == ["staging"]
    detail = bob.get(f"{org}/clusters/{clusters['staging']}/")
    assert detail.status_code == 200
    assert bob.get(f"{org}/clusters/{clusters['prod']}/").status_code == 404
    seen += [listing.content, detail.content, alice.get(f"{org}/clusters/").content]
    seen += [alice.get(f"{org}/audit/").content, bob.get(f"{org}/").content, bob.get(f"{API}/auth/me/").content]
    for body in seen:
        assert b"secret-token" not in body
        assert "mcp_server_token" not in json.loads(body) if body.startswith(b"{") else True
