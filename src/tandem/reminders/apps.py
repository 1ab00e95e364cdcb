from django.apps import AppConfig


class RemindersConfig(AppConfig):
    """Reminders and invitations: each patient's choices, the service's wording, appointments,
    and the daily planning of what to send (sent by the outbox)."""

    name = "tandem.reminders"

    def ready(self) -> None:
        from tandem.reminders import checks, receivers  # noqa: F401 - connects them
