import uuid

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """A fresh key space in the real cache per test, so login-failure counters and throttles never leak."""
    settings.CACHES = {name: {**conf, "KEY_PREFIX": f"t-{uuid.uuid4().hex}"} for name, conf in settings.CACHES.items()}
