"""Refresh rotation: each refresh token works once; reuse is refused, audited, and revokes the whole family."""

from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from orgs.models import AuditEvent
from tests.accounts import PASSWORD, bearer_client, make_user

API = "/api/v1/auth"


def _login(client, user):
    response = client.post(f"{API}/token/", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _refresh(client, token):
    return client.post(f"{API}/token/refresh/", {"refresh": token}, format="json")


def test_it_rotates_the_refresh_token(db):
    user, client = make_user(), APIClient()
    first = _login(client, user)
    response = _refresh(client, first["refresh"])
    assert response.status_code == 200
    second = response.json()
    assert second["refresh"] != first["refresh"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {second['access']}")
    assert client.get(f"{API}/me/").status_code == 200
    assert _refresh(client, second["refresh"]).status_code == 200


def test_it_refuses_and_audits_a_reused_refresh_token(db):
    user, client = make_user(), APIClient()
    first = _login(client, user)
    second = _refresh(client, first["refresh"]).json()
    response = _refresh(client, first["refresh"])
    assert response.status_code == 401
    event = AuditEvent.objects.get(action="auth.refresh_reused")
    assert (event.actor, event.client_ip) == (user, "127.0.0.1")
    # Reuse means the token leaked: the newer token of the same family is revoked too.
    assert _refresh(client, second["refresh"]).status_code == 401
    assert not OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).exists()


def test_it_refuses_refresh_for_a_disabled_user(db):
    user, client = make_user(), APIClient()
    tokens = _login(client, user)
    user.is_active = False
    user.save()
    assert _refresh(client, tokens["refresh"]).status_code == 401


def test_it_refuses_an_access_token_presented_as_refresh(db):
    user, client = make_user(), APIClient()
    assert _refresh(client, _login(client, user)["access"]).status_code == 401
    assert not AuditEvent.objects.filter(action="auth.refresh_reused").exists()


def test_it_blacklists_the_refresh_token_on_logout(db):
    user, client = make_user(), APIClient()
    tokens = _login(client, user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    response = client.post(f"{API}/logout/", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="auth.logout", actor=user).count() == 1
    assert _refresh(APIClient(), tokens["refresh"]).status_code == 401


def test_it_refuses_logout_with_someone_elses_refresh_token(db):
    user, other, client = make_user(), make_user(), APIClient()
    tokens = _login(client, other)
    response = bearer_client(user).post(f"{API}/logout/", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 403
    assert _refresh(client, tokens["refresh"]).status_code == 200


def test_it_refuses_logout_anonymously(db):
    user, client = make_user(), APIClient()
    tokens = _login(client, user)
    assert client.post(f"{API}/logout/", {"refresh": tokens["refresh"]}, format="json").status_code == 401
    assert _refresh(client, tokens["refresh"]).status_code == 200
