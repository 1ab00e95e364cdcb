from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    """The personalised feedback report the patient shapes and shares before a review."""

    name = "tandem.feedback"

    def ready(self):
        from tandem.feedback import receivers

        receivers.connect()
