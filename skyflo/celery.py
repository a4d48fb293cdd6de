import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skyflo.settings")

app = Celery("skyflo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _metrics_server(**_) -> None:
    """The worker has no HTTP server of its own: serve /metrics and /healthz on SKYFLO_METRICS_PORT."""
    from django.conf import settings

    from skyflo.metrics import metrics_server_start

    if settings.METRICS_PORT:
        metrics_server_start(port=settings.METRICS_PORT, token=settings.METRICS_TOKEN)


@signals.worker_init.connect
def _tracing_worker(**_) -> None:
    from skyflo.tracing import tracing_configure

    tracing_configure("worker")


@signals.beat_init.connect
def _tracing_beat(**_) -> None:
    from skyflo.tracing import tracing_configure

    tracing_configure("beat")


@signals.setup_logging.connect
def _logging(**_) -> None:
    """Use Django's LOGGING (JSON lines, redaction) instead of Celery's own format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
