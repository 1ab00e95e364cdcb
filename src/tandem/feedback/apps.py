from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    """The personalised feedback report the patient shapes and shares before a review."""

    name = "tandem.feedback"
