from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """Messages Tandem sends (email, text, letter): one table with each message's status."""

    name = "tandem.outbox"

    def ready(self):
        from tandem.outbox import checks, receivers  # noqa: F401
