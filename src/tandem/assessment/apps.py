from django.apps import AppConfig


class AssessmentConfig(AppConfig):
    name = "tandem.assessment"
    verbose_name = "Assessment and check-ups"

    def ready(self):
        from tandem.assessment import receivers

        receivers.connect()
