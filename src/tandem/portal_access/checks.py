"""Deployment checks of portal access (`tandem check`, i.e. `check --deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from tandem.outbox import sms

NO_SITE_URL = "portal_access.E001"


@checks.register(checks.Tags.security, deploy=True)
def site_url_is_set(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Links in the password resets a visitor asks for on the public pages start with
    TANDEM_SITE_URL: never with the address an anonymous request named."""
    if settings.SITE_URL or sms.files_allowed():
        return []
    return [checks.Error(
        "TANDEM_SITE_URL is not set: password resets patients ask for on /join/forgot/ "
        "cannot be sent (their links must not start with an address a visitor chose).",
        hint="Set TANDEM_SITE_URL to the address patients reach Tandem at, e.g. "
             "https://tandem.example.org (README, Configuration).",
        id=NO_SITE_URL)]
