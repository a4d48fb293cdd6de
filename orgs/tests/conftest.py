import uuid

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """A fresh key space in the real cache per test, so login-failure counters and throttles never leak."""
    settings.CACHES = {name: {**conf, "KEY_PREFIX": f"t-{uuid.uuid4().hex}"} for name, conf in settings.CACHES.items()}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Fixtures create many users; the production hasher's cost is the point in production, not in these tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
