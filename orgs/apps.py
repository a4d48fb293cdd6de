from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Organisations"

    def ready(self):
        from orgs import receivers  # noqa: F401 - connects the password-change receivers
