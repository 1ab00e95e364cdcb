from django.apps import AppConfig


class MedicationConfig(AppConfig):
    """Substitute medication: medicines, plans, doses, dispensing, reviews and reductions."""

    name = "tandem.medication"

    def ready(self):
        from tandem.medication import receivers

        receivers.connect()
