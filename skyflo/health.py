"""Liveness and readiness probes and the metrics endpoint (outside /api/v1).

Kubelet probes and Prometheus address a pod by its IP, which is not among DJANGO_ALLOWED_HOSTS: `OperatorRoutes`
answers these paths before anything validates the Host header or redirects to https. None of them reveals
anything to a stranger: the probes say ok or not, /metrics wants SKYFLO_METRICS_TOKEN (404 when unset).
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse

from skyflo.metrics import CONTENT_TYPE_LATEST, PendingApprovals, metrics_text, token_matches


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    checks = {"database": _database_ok(), "channel_layer": _channel_layer_ok()}
    ready = all(checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def metrics(request):
    if not settings.METRICS_TOKEN:
        return HttpResponse("Not found", status=404, content_type="text/plain")
    if not token_matches(request.headers.get("Authorization"), settings.METRICS_TOKEN):
        return HttpResponse(
            "Unauthorized", status=401, content_type="text/plain", headers={"WWW-Authenticate": "Bearer"}
        )
    return HttpResponse(metrics_text(PendingApprovals()), content_type=CONTENT_TYPE_LATEST)


OPERATOR_ROUTES = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}


class OperatorRoutes:
    """Middleware (first in MIDDLEWARE): serves the operator paths for GET before host checks and redirects."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = OPERATOR_ROUTES.get(request.path_info)
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return False
    return True


def _channel_layer_ok() -> bool:
    layer = get_channel_layer()
    try:
        async_to_sync(layer.send)("readyz.probe", {"type": "readyz.probe"})
    except Exception:
        return False
    return True
