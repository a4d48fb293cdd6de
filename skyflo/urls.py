from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from skyflo.health import healthz, metrics, readyz

api_v1 = [
    path("", include("orgs.api_urls")),
    path("", include("insights.api_urls")),
    path("", include("integrations.api_urls")),
    path("", include("workflows.api_urls")),  # before chats: it adds POST to conversations/{id}/messages/
    path("", include("chats.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its init script as a file (the CSP allows no inline script).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("", include("orgs.urls")),
    path("", include("insights.urls")),
    path("", include("integrations.urls")),
    path("", include("chats.urls")),
]
