"""Deployment checks of the outbox (`tandem check`, i.e. `check --deploy`): a service must
not "send" its messages to local files, which nobody receives, and report them sent."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from tandem.outbox import sms

FILE_EMAIL = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_TO_FILES = "outbox.E001"
SMS_TO_FILES = "outbox.E002"


@checks.register(checks.Tags.security, deploy=True)
def messages_are_really_sent(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if sms.files_allowed():  # the demo, development
        return []
    found = []
    if settings.EMAIL_BACKEND == FILE_EMAIL:
        found.append(checks.Error(
            "No mail server is set: emails (portal invitations, password resets, new staff "
            "accounts' links) would be written to files in TANDEM_OUTBOX_DIR, not sent.",
            hint="Set TANDEM_EMAIL_HOST (and TANDEM_EMAIL_USER, TANDEM_EMAIL_PASSWORD, "
                 "TANDEM_EMAIL_FROM): README, Configuration.",
            id=EMAIL_TO_FILES))
    if settings.SMS_BACKEND == sms.FILE_BACKEND:
        found.append(checks.Error(
            "TANDEM_SMS_BACKEND is the file backend: text messages would be written to files, "
            "not sent (and staff cannot choose texts).",
            hint="Set TANDEM_SMS_BACKEND to your provider's backend, or to 'none' to turn "
                 "text messages off (docs/portal-access.md).",
            id=SMS_TO_FILES))
    return found
