from django.apps import AppConfig


class PortalAccessConfig(AppConfig):
    """How a patient gets, keeps and loses a portal login: invitations, activation, resets."""

    name = "tandem.portal_access"

    def ready(self):
        from tandem.portal_access import checks  # noqa: F401
