"""Encryption at rest for secrets we must be able to read back (cluster tool-server tokens).

The key is derived from DJANGO_SECRET_KEY (and its fallbacks, so keys can rotate) with HKDF, so no extra
variable is needed and a leaked database alone does not reveal the tokens.
"""

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet_for(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"skyflo.secret-field", info=b"v1").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@cache
def _cipher(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet_for(secret_key), *(_fernet_for(key) for key in fallbacks)])


def _current() -> MultiFernet:
    return _cipher(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


def secret_encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return _current().encrypt(plaintext.encode()).decode()


def secret_decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("stored secret cannot be decrypted with the configured DJANGO_SECRET_KEY") from exc
