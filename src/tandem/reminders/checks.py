"""Deployment checks of reminders (`tandem check`): every message carries a link to the
service's address (TANDEM_SITE_URL); an address that says what the service does would tell
whoever reads a text message, however discreet its words."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from tandem.core.reminders import words_that_tell

SITE_TELLS = "reminders.W001"


@checks.register(checks.Tags.security, deploy=True)
def the_address_in_messages_is_discreet(app_configs=None, **kwargs):
    told = words_that_tell(settings.SITE_URL.replace("-", " ").replace(".", " ")
                           .replace("/", " "))
    if not told:
        return []
    return [checks.Warning(
        f"TANDEM_SITE_URL ({settings.SITE_URL}) says what the service is about "
        f"({', '.join(told)}), and every reminder's link shows it.",
        hint="Serve Tandem at an address with a neutral name for the links in messages "
             "(docs/reminders.md).", id=SITE_TELLS)]
