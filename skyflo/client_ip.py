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
    if remote is None or not proxies or not _is_proxy(remote, proxies):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return remote
        if not any(address in network for network in proxies):
            return str(address)
    return remote


def _is_proxy(address: str, proxies) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in proxies)
