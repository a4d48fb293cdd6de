from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Runs and approvals"

    def ready(self) -> None:
        from workflows import signals  # noqa: F401 - connects the receivers
