from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations (Slack, webhook)"

    def ready(self) -> None:
        from integrations import receivers  # noqa: F401 - connects the approval receivers
