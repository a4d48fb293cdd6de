"""Access tokens: only unexpired HS256 access tokens for our audience and issuer, of active users, are accepted."""

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.accounts import make_user

ME = "/api/v1/auth/me/"


def _me(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(ME)


def _claims(user) -> dict:
    """The claims of a real access token, as signed (audience and issuer included)."""
    return jwt.decode(str(AccessToken.for_user(user)), options={"verify_signature": False})


def _signed(payload: dict, algorithm: str = "HS256", key: str | None = None) -> str:
    return jwt.encode(payload, settings.SECRET_KEY if key is None else key, algorithm=algorithm)


@pytest.fixture
def user(db):
    return make_user()


def test_it_accepts_a_fresh_access_token(user):
    response = _me(str(AccessToken.for_user(user)))
    assert response.status_code == 200
    assert response.json()["email"] == user.email


def test_it_issues_short_lived_tokens_with_audience_and_issuer(user):
    claims = _claims(user)
    assert claims["exp"] - claims["iat"] <= 300
    assert (claims["aud"], claims["iss"], claims["token_type"]) == ("skyflo-api", "skyflo", "access")
    assert jwt.get_unverified_header(str(AccessToken.for_user(user)))["alg"] == "HS256"
    assert _me(_signed(claims)).status_code == 200  # the forging helper below makes tokens we would accept


def test_it_refuses_an_expired_access_token(user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    assert _me(str(token)).status_code == 401


def test_it_refuses_a_token_for_another_audience(user):
    payload = {**_claims(user), "aud": "someone-else"}
    assert _me(_signed(payload)).status_code == 401


def test_it_refuses_a_token_from_another_issuer(user):
    payload = {**_claims(user), "iss": "someone-else"}
    assert _me(_signed(payload)).status_code == 401


def test_it_refuses_an_unsigned_alg_none_token(user):
    payload = _claims(user)
    token = jwt.encode(payload, key=None, algorithm="none")
    assert _me(token).status_code == 401


def test_it_refuses_a_token_signed_with_another_key(user):
    payload = _claims(user)
    assert _me(_signed(payload, key="x" * 64)).status_code == 401


def test_it_refuses_a_refresh_token_presented_as_access(user):
    assert _me(str(RefreshToken.for_user(user))).status_code == 401


def test_it_refuses_tokens_of_a_disabled_user(user):
    token = str(AccessToken.for_user(user))
    user.is_active = False
    user.save()
    assert _me(token).status_code == 401
