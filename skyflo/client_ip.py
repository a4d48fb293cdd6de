"""The client's address, for login throttles and the audit log.

Behind a reverse proxy REMOTE_ADDR is the proxy's address, so every client would share one per-IP login
budget. With SKYFLO_TRUSTED_PROXIES (addresses or networks) set, a request arriving from a trusted proxy is
attributed to the right-most address of X-Forwarded-For that is not itself a trusted proxy. Only the hops the
proxies appended are believed: whatever a client writes into the header itself sits to the left of them, and
a malformed hop makes the whole header ignored.
"""

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXIES
    if remote is None or not proxies or not _is_proxy(_address(remote), proxies):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return remote
        if not _is_proxy(address, proxies):
            return str(address)
    return remote


def _address(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_proxy(address, proxies) -> bool:
    return address is not None and any(address in network for network in proxies)
