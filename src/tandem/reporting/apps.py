from django.apps import AppConfig


class ReportingConfig(AppConfig):
    """The service report: the balance of the work, harm reduction, overcoming dependence,
    reviews on time and outcomes, with small numbers suppressed in anything that leaves."""

    name = "tandem.reporting"

    def ready(self) -> None:
        from tandem.reporting import checks  # noqa: F401 - registers the SQLite version check
