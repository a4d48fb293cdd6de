"""Finding 14: there was no self-service password change, and a change or reset ended no other session, refresh
token or access token. POST /auth/password/ (and the profile page) change it given the current one; a change
or an admin's reset ends everything issued before."""

from django.test import Client
from rest_framework.test import APIClient

from orgs.models import AuditEvent
from tests.accounts import PASSWORD, make_user

NEW = "a brand new passphrase 42"


def _signed_in_browser(user) -> Client:
    browser = Client()
    assert browser.post("/login/", {"email": user.email, "password": PASSWORD}).status_code == 302
    return browser


def _token_pair(user) -> dict:
    response = APIClient().post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json")
    return response.json()


def _me(access: str) -> int:
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {access}").get("/api/v1/auth/me/").status_code


def _refresh(refresh: str) -> int:
    return APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json").status_code


def test_finding_14_password_change_ends_every_other_credential(db):
    user = make_user("ann@example.com")
    other_browser, pair = _signed_in_browser(user), _token_pair(user)
    assert (other_browser.get("/profile/").status_code, _me(pair["access"])) == (200, 200)

    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {pair['access']}").post(
        "/api/v1/auth/password/", {"current_password": PASSWORD, "new_password": NEW}, format="json"
    )

    assert response.status_code == 200
    assert other_browser.get("/profile/").status_code == 302  # signed out
    assert _me(pair["access"]) == 401
    assert _refresh(pair["refresh"]) == 401
    assert _me(response.json()["access"]) == 200
    assert _refresh(response.json()["refresh"]) == 200
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert AuditEvent.objects.filter(action="auth.password_changed", actor=user).count() == 1


def test_finding_14_password_change_needs_the_current_password(db):
    user = make_user("ann@example.com")
    access = _token_pair(user)["access"]
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {access}")
    body = {"current_password": "not it", "new_password": NEW}
    response = client.post("/api/v1/auth/password/", body, format="json")
    assert response.status_code == 400
    assert "current_password" in response.json()
    assert APIClient().post("/api/v1/auth/password/", body, format="json").status_code == 401
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert _me(access) == 200


def test_finding_14_profile_page_changes_the_password_and_keeps_this_session(db):
    user = make_user("ann@example.com")
    this_browser, other_browser = _signed_in_browser(user), _signed_in_browser(user)
    assert b"Change password" in this_browser.get("/profile/").content

    response = this_browser.post("/profile/password/", {"current_password": PASSWORD, "new_password": NEW})

    assert response.status_code == 302
    assert this_browser.get("/profile/").status_code == 200
    assert other_browser.get("/profile/").status_code == 302
    wrong = this_browser.post("/profile/password/", {"current_password": PASSWORD, "new_password": "x" * 12})
    assert wrong.status_code == 400
    assert b"This is not your current password." in wrong.content


def test_finding_14_admin_reset_ends_the_users_tokens(db):
    staff = make_user("boss@example.com", is_staff=True, is_superuser=True)
    user = make_user("ann@example.com")
    pair = _token_pair(user)
    admin = Client()
    admin.force_login(staff)

    response = admin.post(f"/admin/orgs/user/{user.pk}/password/", {"password1": NEW, "password2": NEW})

    assert response.status_code == 302
    assert _me(pair["access"]) == 401
    assert _refresh(pair["refresh"]) == 401
    assert AuditEvent.objects.filter(action="auth.password_reset", actor=staff, target_id=str(user.pk)).exists()
