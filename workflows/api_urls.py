from django.urls import path

from workflows import api

urlpatterns = [
    path(
        "conversations/<uuid:pk>/messages/",
        api.ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
    path("runs/<uuid:run_id>/", api.RunDetailView.as_view(), name="run-detail"),
    path("runs/<uuid:run_id>/cancel/", api.RunCancelView.as_view(), name="run-cancel"),
    path("runs/<uuid:run_id>/tool-calls/<str:call_id>/undo/", api.ToolCallUndoView.as_view(), name="tool-call-undo"),
    path("approvals/<uuid:approval_id>/", api.ApprovalDetailView.as_view(), name="approval-detail"),
    path("approvals/<uuid:approval_id>/decide/", api.ApprovalDecideView.as_view(), name="approval-decide"),
]
