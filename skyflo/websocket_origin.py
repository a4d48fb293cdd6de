"""The WebSocket Origin rule. A page may open a socket only from this site's own origin — scheme, host and port
as the socket was reached — or from one listed in CSRF_TRUSTED_ORIGINS, and the Host must be an allowed host.
Channels' AllowedHostsOriginValidator compares host names only: another port's app or plain http passed."""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(text: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(text)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        return parts.scheme, parts.hostname.lower(), parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:  # a malformed port
        return None


def _trusted(origin: tuple[str, str, int]) -> bool:
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in entry
        trusted = _origin(entry.replace("://*.", "://", 1))
        if trusted is None or (trusted[0], trusted[2]) != (scheme, port):
            continue
        if host == trusted[1] or (wildcard and host.endswith("." + trusted[1])):
            return True
    return False


def _own_scheme(scope, headers: dict) -> str:
    header, secure_value = settings.SECURE_PROXY_SSL_HEADER or ("", "")
    forwarded = headers.get(header.removeprefix("HTTP_").replace("_", "-").lower().encode())
    if forwarded is not None:
        return "https" if forwarded.decode("latin1").split(",")[0].strip() == secure_value else "http"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def origin_allowed(scope) -> bool:
    headers = dict(scope.get("headers", []))
    origin = _origin(headers.get(b"origin", b"").decode("latin1"))
    domain, port = split_domain_port(headers.get(b"host", b"").decode("latin1"))
    if origin is None or not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    if _trusted(origin):
        return True
    scheme = _own_scheme(scope, headers)
    return origin == (scheme, domain, int(port) if port else DEFAULT_PORTS[scheme])


class SameOriginValidator:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)
