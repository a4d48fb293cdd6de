from django.urls import path

from integrations import views

urlpatterns = [
    path(
        "orgs/<slug:slug>/settings/integrations/",
        views.settings_integrations_view,
        name="org-settings-integrations",
    ),
]
