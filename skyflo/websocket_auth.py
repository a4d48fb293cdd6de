"""WebSocket authentication: the browser session cookie, or the `bearer.<access token>` subprotocol.

Tokens in the query string are refused (they end up in proxy logs). The consumer reads:
scope["user"], scope["auth_method"] ("session" | "bearer" | None), scope["token_exp"] (epoch seconds or None),
scope["auth_error"] (a reason string when the credentials were presented but refused).
"""

import re
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken
from rest_framework_simplejwt.utils import get_md5_hash_password

SUBPROTOCOL = "skyflo.v1"
BEARER_PREFIX = "bearer."
QUERY_TOKEN_KEYS = {"token", "access", "access_token", "jwt", "auth", "bearer"}
JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}$")


def _query_carries_token(query: dict[str, list[str]]) -> bool:
    if QUERY_TOKEN_KEYS & {key.lower() for key in query}:
        return True
    return any(JWT_SHAPE.match(value) for values in query.values() for value in values)


class _BearerSubprotocolMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        scope.setdefault("auth_error", None)
        scope["token_exp"] = None
        scope["auth_method"] = "session" if scope.get("user") and scope["user"].is_authenticated else None
        query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
        if _query_carries_token(query):
            scope["user"] = AnonymousUser()
            scope["auth_method"] = None
            scope["auth_error"] = "tokens in the query string are not accepted"
            return await self.inner(scope, receive, send)
        bearer = next(
            (p[len(BEARER_PREFIX) :] for p in scope.get("subprotocols", []) if p.startswith(BEARER_PREFIX)),
            None,
        )
        if bearer is not None:
            user, exp, error = await _user_for_token(bearer)
            scope["user"] = user or AnonymousUser()
            scope["token_exp"] = exp
            scope["auth_method"] = "bearer" if user else None
            scope["auth_error"] = error
        return await self.inner(scope, receive, send)


@database_sync_to_async
def _user_for_token(raw: str):
    try:
        token = AccessToken(raw)
    except TokenError as exc:
        return None, None, f"invalid token: {exc}"
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None, None, "unknown or disabled user"
    if token.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        return None, None, "the password changed since this token was issued"
    return user, int(token["exp"]), None


def WebSocketAuthMiddleware(inner):  # noqa: N802 - named like the middleware classes it composes
    return AuthMiddlewareStack(_BearerSubprotocolMiddleware(inner))
