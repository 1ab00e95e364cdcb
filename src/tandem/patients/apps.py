from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "tandem.patients"
    label = "patients"

    def ready(self):
        from tandem.patients import signals

        signals.connect(self)
