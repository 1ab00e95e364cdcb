from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tandem.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from tandem.audit import signals  # noqa: F401
