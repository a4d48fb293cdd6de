import os

from django.core.asgi import get_asgi_application
from django.urls import get_resolver

from skyflo.tracing import tracing_configure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skyflo.settings")
tracing_configure("web")  # before Django builds its middleware chain: the request spans wrap all of it
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from skyflo.admission import HttpAdmission  # noqa: E402
from skyflo.gc_settle import gc_settle  # noqa: E402
from skyflo.routing import websocket_urlpatterns  # noqa: E402
from skyflo.websocket_auth import WebSocketAuthMiddleware  # noqa: E402
from skyflo.websocket_origin import SameOriginValidator  # noqa: E402
from workflows.embedded_loop import EmbeddedLoop  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": HttpAdmission(
            django_asgi_app,
            concurrency=settings.HTTP_CONCURRENCY,
            queue=settings.HTTP_QUEUE,
            queue_wait_s=settings.HTTP_QUEUE_WAIT_S,
        ),
        "websocket": SameOriginValidator(WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
if settings.RUNS_IN_PROCESS:  # embedded mode: runs, events and periodic jobs on this loop
    application = EmbeddedLoop(application)

# Load the URLconf (and with it every view module) now rather than on the first request, then settle the
# collector over everything the server will keep (skyflo/gc_settle.py).
get_resolver().url_patterns  # noqa: B018
gc_settle()
