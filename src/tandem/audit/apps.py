from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tandem.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from tandem.audit import checks, signals  # noqa: F401
