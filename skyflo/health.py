"""Liveness and readiness probes (outside /api/v1)."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    checks = {"database": _database_ok(), "channel_layer": _channel_layer_ok()}
    ready = all(checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


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
