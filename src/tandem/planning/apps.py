from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "tandem.planning"
    verbose_name = "Shared goal-setting and care plans"
