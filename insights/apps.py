from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = "Insights, budgets and the audit export"

    def ready(self) -> None:
        from insights import audit_sink

        audit_sink.connect()
