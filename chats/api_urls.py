from django.urls import path

from chats import api

urlpatterns = [
    path("conversations/", api.ConversationListView.as_view(), name="conversation-list"),
    path("conversations/<uuid:pk>/", api.ConversationDetailView.as_view(), name="conversation-detail"),
    path("conversations/<uuid:pk>/shares/", api.ConversationSharesView.as_view(), name="conversation-shares"),
    path(
        "conversations/<uuid:pk>/shares/<uuid:team_id>/",
        api.ConversationShareDetailView.as_view(),
        name="conversation-share-detail",
    ),
    path("runs/<uuid:pk>/events/", api.RunEventsView.as_view(), name="run-events"),
]
