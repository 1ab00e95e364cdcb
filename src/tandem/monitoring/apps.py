from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "tandem.monitoring"
    verbose_name = "Flags and early warning"

    def ready(self):
        from tandem.monitoring.tasks import reevaluate
        from tandem.planning import events

        # A plan signed or a review held can end a flag's condition: look again at once.
        events.plan_signed.connect(reevaluate, dispatch_uid="monitoring-plan-signed")
        events.review_held.connect(reevaluate, dispatch_uid="monitoring-review-held")
