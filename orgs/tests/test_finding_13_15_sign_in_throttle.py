"""Findings 13 and 15: the admin's sign-in had no throttle and no audit; and five failures from anywhere
locked any account for the window, so anyone could lock anyone out. Now the failing address is locked and the
account only slowed: the right password from a new address still signs in."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from orgs.models import AuditEvent
from tests.accounts import PASSWORD, make_user

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.LOGIN_FAILURE_LIMIT = 5


def _api_login(email, password, ip):
    return APIClient(REMOTE_ADDR=ip).post(TOKEN_URL, {"email": email, "password": password}, format="json")


def test_finding_15_failures_lock_the_attackers_address_not_the_account(db):
    make_user("victim@example.com")
    for _ in range(5):
        assert _api_login("victim@example.com", "guess", ip="198.51.100.66").status_code == 401

    # The owner, from their own address, signs in with the right password.
    assert _api_login("victim@example.com", PASSWORD, ip="203.0.113.10").status_code == 200
    # The attacker's address is locked, whichever account and password it tries.
    make_user("other@example.com")
    assert _api_login("other@example.com", PASSWORD, ip="198.51.100.66").status_code == 429
    assert _api_login("victim@example.com", PASSWORD, ip="198.51.100.66").status_code == 429


def test_finding_15_many_addresses_only_slow_the_account(db):
    make_user("victim@example.com")
    for n in range(5):  # a botnet: one failure per address
        assert _api_login("victim@example.com", "guess", ip=f"198.51.100.{n}").status_code == 401
    # Each address now gets one try per slowdown period on this account: a botnet gets one guess per address.
    assert _api_login("victim@example.com", "guess", ip="198.51.100.200").status_code == 401
    assert _api_login("victim@example.com", PASSWORD, ip="198.51.100.200").status_code == 429
    # The owner's first try from a new address is checked, and the right password works.
    assert _api_login("victim@example.com", PASSWORD, ip="203.0.113.10").status_code == 200


def _admin_login(ip, email, password):
    client = Client(REMOTE_ADDR=ip)
    response = client.post("/admin/login/?next=/admin/", {"username": email, "password": password})
    return client, response


def test_finding_13_admin_login_is_throttled_and_audited(db):
    make_user("boss@example.com", is_staff=True, is_superuser=True)
    for _ in range(5):
        _, response = _admin_login("198.51.100.7", "boss@example.com", "guess")
        assert response.status_code == 200  # the form again, with its error
    assert AuditEvent.objects.filter(action="auth.login_failed", data__via="admin").count() == 5

    client, response = _admin_login("198.51.100.7", "boss@example.com", PASSWORD)
    assert b"Too many failed sign-in attempts from this address" in response.content
    assert client.get("/admin/").status_code == 302  # still signed out
    assert AuditEvent.objects.filter(action="auth.login_throttled", client_ip="198.51.100.7").count() == 1

    client, response = _admin_login("203.0.113.9", "boss@example.com", PASSWORD)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.login", data__via="admin", client_ip="203.0.113.9").count() == 1
