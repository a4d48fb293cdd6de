from django.urls import path

from chats import views

urlpatterns = [
    path("", views.chat_home_view, name="chat-home"),
    path("c/<uuid:conversation_id>/", views.conversation_view, name="conversation"),
]
