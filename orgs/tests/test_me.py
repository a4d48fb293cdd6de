"""GET/PATCH /auth/me/: one's own profile; roles and flags are never writable here."""

from orgs.models import AuditEvent, Membership, Role
from tests.accounts import PASSWORD, bearer_client, make_member, make_org, make_user

URL = "/api/v1/auth/me/"


def test_it_refuses_anonymous(anon_client, db):
    assert anon_client.get(URL).status_code == 401
    assert anon_client.patch(URL, {"full_name": "x"}, format="json").status_code == 401


def test_it_shows_the_profile_and_orgs(db):
    org = make_org("acme")
    user = make_member(org, Role.VIEWER)
    body = bearer_client(user).get(URL).json()
    assert (body["email"], body["orgs"]) == (user.email, ["acme"])


def test_it_changes_name_and_email_but_never_role_or_flags(db):
    org = make_org()
    user = make_member(org, Role.VIEWER)
    body = {
        "full_name": "New Name",
        "email": "new@example.com",
        "is_staff": True,
        "is_superuser": True,
        "role": "owner",
        "current_password": PASSWORD,
    }
    response = bearer_client(user).patch(URL, body, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.full_name, user.email, user.is_staff, user.is_superuser) == (
        "New Name",
        "new@example.com",
        False,
        False,
    )
    assert Membership.objects.get(user=user).role == Role.VIEWER
    assert AuditEvent.objects.filter(action="user.updated", actor=user).exists()


def test_it_refuses_an_email_that_is_taken(db):
    user, other = make_user(), make_user()
    response = bearer_client(user).patch(
        URL, {"email": other.email.upper(), "current_password": PASSWORD}, format="json"
    )
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.email != other.email
