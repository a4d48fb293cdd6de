"""Where a cluster connection may point: the tool server's address must be public, or in
settings.MCP_ALLOWED_NETWORKS (loopback in debug/embedded mode), or the install's own MCP_SERVER_URL.

Otherwise "Test connection" and runs would let any admin of a self-made organisation probe the web process's
network: the metadata service (169.254.169.254), loopback services, private ranges.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

REFUSED = (
    "This tool server address is on an internal network, which cluster connections may not use "
    "(an operator can allow networks with SKYFLO_MCP_ALLOWED_NETWORKS)."
)


def tool_server_url_check(url: str, *, resolve_failure_ok: bool = True) -> None:
    """Raise ValidationError({"mcp_server_url": …}) when any address the URL's host resolves to is not public
    and not allowed. A host that does not resolve passes when resolve_failure_ok (nothing to reach now; the
    address is checked again before each connection test)."""
    parts = urlsplit(url)
    if _is_configured_server(parts):
        return
    try:
        addresses = _addresses(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    except OSError:
        if resolve_failure_ok:
            return
        raise ValidationError({"mcp_server_url": "This host name does not resolve."}) from None
    if any(not _allowed(address) for address in addresses):
        raise ValidationError({"mcp_server_url": REFUSED})


def _is_configured_server(parts) -> bool:
    if not settings.MCP_SERVER_URL:
        return False
    own = urlsplit(settings.MCP_SERVER_URL)
    return (own.scheme, own.hostname, own.port) == (parts.scheme, parts.hostname, parts.port)


def _addresses(host: str, port: int) -> set:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return {ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos}


def _allowed(address) -> bool:
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in settings.MCP_ALLOWED_NETWORKS):
        return True
    return address.is_global and not address.is_multicast
