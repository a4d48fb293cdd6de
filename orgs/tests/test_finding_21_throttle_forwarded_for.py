"""Finding 21: DRF's throttles keyed anonymous clients by whatever X-Forwarded-For they sent, so a new header
value was a fresh budget. They now use the trusted-proxy rule of skyflo/client_ip.py."""

import ipaddress

from rest_framework.test import APIClient

REFRESH = "/api/v1/auth/token/refresh/"
AUTH_BUDGET = 30  # SKYFLO_AUTH_RATE's default, per minute


def _refresh(remote, forwarded):
    client = APIClient(REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    return client.post(REFRESH, {"refresh": "junk"}, format="json").status_code


def test_finding_21_a_forged_forwarded_for_does_not_reset_the_budget(db):
    codes = [_refresh("198.51.100.5", f"10.0.{n // 250}.{n % 250}") for n in range(AUTH_BUDGET + 1)]
    assert codes[:AUTH_BUDGET] == [401] * AUTH_BUDGET
    assert codes[AUTH_BUDGET] == 429
    assert _refresh("198.51.100.6", "10.0.0.1") == 401  # another client still has its own budget


def test_finding_21_behind_a_trusted_proxy_each_client_has_its_budget(db, settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.9.0.0/16")]
    codes = [_refresh("10.9.0.1", f"1.2.3.{n}, 203.0.113.7") for n in range(AUTH_BUDGET + 1)]
    assert codes[AUTH_BUDGET] == 429
    assert _refresh("10.9.0.1", "203.0.113.8") == 401
