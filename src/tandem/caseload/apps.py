from django.apps import AppConfig


class CaseloadConfig(AppConfig):
    """Who needs me today, and each patient's summary: the staff pages that bring together
    what every clinical app keeps. It sits above them all (see tests/test_layers.py)."""

    name = "tandem.caseload"
    label = "caseload"

    def ready(self):
        from tandem.caseload import signals

        signals.connect()
