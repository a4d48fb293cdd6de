from django.urls import path

from insights import views

urlpatterns = [
    path("orgs/<slug:slug>/insights/", views.insights_view, name="insights-page"),
    path("orgs/<slug:slug>/insights/settings/", views.insights_settings_view, name="insights-settings"),
]
