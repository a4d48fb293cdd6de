"""POST /auth/token/: a token pair for the right password; failures audited and throttled per account and per IP."""

import ipaddress

import pytest
from rest_framework.test import APIClient

from orgs.models import AuditEvent
from tests.accounts import PASSWORD, make_user

URL = "/api/v1/auth/token/"


def _login(email, password=PASSWORD, ip="10.0.0.1"):
    return APIClient(REMOTE_ADDR=ip).post(URL, {"email": email, "password": password}, format="json")


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.LOGIN_FAILURE_LIMIT = 3


def test_it_issues_a_token_pair_and_audits_the_login(db):
    user = make_user("Ann@Example.com")
    response = _login("ann@example.com")
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    event = AuditEvent.objects.get(action="auth.login")
    assert (event.actor, event.client_ip) == (user, "10.0.0.1")
    user.refresh_from_db()
    assert user.last_login is not None


def test_it_refuses_and_audits_a_wrong_password(db):
    make_user("ann@example.com")
    response = _login("ann@example.com", "wrong password")
    assert response.status_code == 401
    assert "access" not in response.json()
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert (event.actor, event.data["email"]) == (None, "ann@example.com")


def test_it_refuses_a_disabled_account(db):
    make_user("ann@example.com", is_active=False)
    assert _login("ann@example.com").status_code == 401
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 1


def test_it_slows_an_account_after_repeated_failures(db):
    make_user("ann@example.com")
    for n in range(3):
        assert _login("ann@example.com", "wrong", ip=f"10.0.0.{n}").status_code == 401
    # Each address gets one try per slowdown period on this account; the second one waits.
    assert _login("ann@example.com", "wrong", ip="10.9.9.9").status_code == 401
    response = _login("ann@example.com", ip="10.9.9.9")
    assert response.status_code == 429
    assert response.json()["detail"] == "Too many failed sign-ins for this account; wait a moment and try again."
    assert AuditEvent.objects.filter(action="auth.login_throttled", data__why="login_slowed").count() == 1
    assert not AuditEvent.objects.filter(action="auth.login").exists()


def test_it_throttles_an_address_trying_many_accounts(db):
    make_user("zed@example.com")
    for n in range(3):
        assert _login(f"nobody{n}@example.com", "wrong", ip="10.6.6.6").status_code == 401
    assert _login("zed@example.com", ip="10.6.6.6").status_code == 429
    assert _login("zed@example.com", ip="10.7.7.7").status_code == 200


def test_it_forgets_account_failures_after_a_success(db):
    make_user("ann@example.com")
    for n in range(2):
        _login("ann@example.com", "wrong", ip=f"10.1.0.{n}")
    assert _login("ann@example.com", ip="10.1.1.1").status_code == 200
    for n in range(2):
        _login("ann@example.com", "wrong", ip=f"10.2.0.{n}")
    assert _login("ann@example.com", ip="10.2.1.1").status_code == 200


def _login_via(proxy, forwarded_for, email, password=PASSWORD):
    client = APIClient(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded_for)
    return client.post(URL, {"email": email, "password": password}, format="json")


def test_behind_a_trusted_proxy_it_throttles_and_audits_the_forwarded_client(db, settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/24")]
    make_user("zed@example.com")
    for n in range(3):  # the attacker writes its own X-Forwarded-For; the proxy appends the real address
        assert _login_via("10.0.0.5", f"1.2.3.{n}, 203.0.113.7", f"nobody{n}@example.com", "wrong").status_code == 401

    assert _login_via("10.0.0.5", "203.0.113.7", "zed@example.com").status_code == 429
    assert _login_via("10.0.0.5", "198.51.100.2", "zed@example.com").status_code == 200  # another client, same proxy
    assert AuditEvent.objects.filter(action="auth.login_failed", client_ip="203.0.113.7").count() == 3


def test_it_ignores_x_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy(db, settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/24")]
    make_user("zed@example.com")
    for n in range(3):
        assert _login_via("192.0.2.9", f"198.51.100.{n}", f"nobody{n}@example.com", "wrong").status_code == 401

    assert _login_via("192.0.2.9", "198.51.100.99", "zed@example.com").status_code == 429  # counted as 192.0.2.9
