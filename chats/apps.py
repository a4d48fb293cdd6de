from django.apps import AppConfig


class ChatsConfig(AppConfig):
    name = "chats"
    verbose_name = "Conversations"

    def ready(self):
        from chats import signals  # noqa: F401 - connects the access-change receivers
