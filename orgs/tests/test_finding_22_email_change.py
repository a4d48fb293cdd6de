"""Finding 22: anyone holding a session or an access token could change the account's email (its sign-in name)
without the password. The change needs the current password and is audited with both addresses."""

from orgs.models import AuditEvent
from tests.accounts import PASSWORD, bearer_client, make_user

URL = "/api/v1/auth/me/"


def test_finding_22_email_change_needs_the_current_password(db):
    user = make_user("ann@example.com")
    stolen = bearer_client(user)

    for body in ({"email": "mallory@example.net"}, {"email": "mallory@example.net", "current_password": "guess"}):
        response = stolen.patch(URL, body, format="json")
        assert response.status_code == 400
        assert "current_password" in response.json()
    user.refresh_from_db()
    assert user.email == "ann@example.com"

    response = stolen.patch(URL, {"email": "ann@new.example.com", "current_password": PASSWORD}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.email == "ann@new.example.com"
    event = AuditEvent.objects.get(action="user.updated", actor=user)
    assert event.data == {"email_before": "ann@example.com", "email_after": "ann@new.example.com"}


def test_finding_22_name_changes_need_no_password(db):
    user = make_user("ann@example.com")
    body = {"full_name": "Ann B", "email": "ANN@example.com"}  # the same address, differently cased
    assert bearer_client(user).patch(URL, body, format="json").status_code == 200
    user.refresh_from_db()
    assert (user.full_name, user.email) == ("Ann B", "ann@example.com")
