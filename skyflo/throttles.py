"""DRF throttles that key anonymous clients by skyflo.client_ip: DRF's own get_ident believes any
X-Forwarded-For a client writes (with NUM_PROXIES unset), so a new header value was a fresh budget."""

from rest_framework import throttling

from skyflo.client_ip import client_ip


class _ClientIPIdent:
    def get_ident(self, request):
        return client_ip(request) or "-"


class UserRateThrottle(_ClientIPIdent, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(_ClientIPIdent, throttling.ScopedRateThrottle):
    pass
