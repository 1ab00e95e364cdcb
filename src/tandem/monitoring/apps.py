from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "tandem.monitoring"
    verbose_name = "Flags and early warning"

    def ready(self):
        from tandem.monitoring import receivers

        receivers.connect()
