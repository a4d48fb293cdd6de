from django.urls import path

from integrations import api

ORG = "orgs/<slug:slug>/integrations/"

urlpatterns = [
    path(ORG + "slack/", api.SlackConnectionView.as_view(), name="slack-connection"),
    path(ORG + "webhook/", api.WebhookConnectionView.as_view(), name="webhook-connection"),
    path(
        "integrations/slack/<uuid:connection_id>/interactions/",
        api.SlackInteractionsView.as_view(),
        name="slack-interactions",
    ),
]
