"""GOV.UK Notify, the messaging platform UK public services use, through its maintained client
(`notifications-python-client`). Set TANDEM_SMS_BACKEND=tandem.outbox.notify.NotifySmsBackend,
TANDEM_NOTIFY_API_KEY, and TANDEM_NOTIFY_SMS_TEMPLATE_ID: the id of a Notify text message
template whose whole content is `((body))` (Tandem writes the words; Notify sends them).

- Letters likewise (TANDEM_LETTER_BACKEND=tandem.outbox.notify.NotifyLetterBackend and
  TANDEM_NOTIFY_LETTER_TEMPLATE_ID: a letter template whose content is `((body))`).
- Each message goes with Tandem's id of it as Notify's `reference`, so that after a crash
  between Notify accepting a message and Tandem recording it, Tandem asks Notify for that
  reference before it would send again (`find`): a message is never sent twice.
- Delivery receipts come back to `/outbox/notify/receipts` (views.notify_receipt), with the
  bearer token set in Notify's callback settings (TANDEM_NOTIFY_CALLBACK_TOKEN); where none
  arrives, the worker asks Notify (`status`, services.poll_receipts).

Notify's statuses (docs.notifications.service.gov.uk, "Status - text message"): created,
sending, pending, sent (international), delivered, permanent-failure (the number does not
exist or is not a mobile), temporary-failure (the phone was off or full for 72 hours),
technical-failure (a problem at Notify or its providers).
"""

from __future__ import annotations

from django.conf import settings
from notifications_python_client.notifications import NotificationsAPIClient

from tandem.outbox.letters import LetterBackend
from tandem.outbox.sms import SmsBackend, SmsError

FAILURES = {
    "permanent-failure": "The phone number does not exist or cannot get text messages.",
    "temporary-failure": "The phone was switched off or its inbox was full for 3 days.",
    "technical-failure": "A problem at the text message provider; it was not delivered.",
    "validation-failed": "The provider could not accept this message.",
}


def outcome(notify_status: str) -> tuple[str, str] | None:
    """Tandem's word for a Notify status: ("delivered" | "failed", the reason), or None while
    it is still on its way."""
    if notify_status == "delivered":
        return "delivered", ""
    if notify_status in FAILURES:
        return "failed", FAILURES[notify_status]
    return None


def _client(template_setting: str):
    if not settings.NOTIFY_API_KEY or not getattr(settings, template_setting):
        raise SmsError(f"GOV.UK Notify is chosen but TANDEM_NOTIFY_API_KEY or "
                       f"TANDEM_{template_setting} is not set.")
    return NotificationsAPIClient(settings.NOTIFY_API_KEY, base_url=settings.NOTIFY_BASE_URL)


class NotifySmsBackend(SmsBackend):
    def __init__(self, client=None):
        self.client = client or _client("NOTIFY_SMS_TEMPLATE_ID")

    def send(self, to: str, body: str, reference: str = "") -> str:
        answer = self.client.send_sms_notification(
            phone_number=to, template_id=settings.NOTIFY_SMS_TEMPLATE_ID,
            personalisation={"body": body}, reference=reference or None)
        return answer["id"]

    def find(self, reference: str) -> str | None:
        found = self.client.get_all_notifications(template_type="sms", reference=reference)
        notifications = found.get("notifications") or []
        return notifications[0]["id"] if notifications else None

    def status(self, provider_id: str) -> tuple[str, str] | None:
        return outcome(self.client.get_notification_by_id(provider_id).get("status", ""))


class NotifyLetterBackend(LetterBackend):
    """Letters through a Notify letter template whose content is `((body))`
    (TANDEM_NOTIFY_LETTER_TEMPLATE_ID); Notify prints and posts them. Its address lines are
    `address_line_1` to `address_line_7`, the name first and the postcode last (Notify needs
    at least three lines)."""

    def __init__(self, client=None):
        self.client = client or _client("NOTIFY_LETTER_TEMPLATE_ID")

    def send(self, name: str, address: list[str], body: str, reference: str = "") -> str:
        lines = [line for line in [name, *address] if line.strip()][:7]
        if len(lines) < 3:
            raise SmsError("A letter needs at least two lines of address and a postcode.")
        personalisation = {f"address_line_{n}": line for n, line in enumerate(lines, 1)}
        answer = self.client.send_letter_notification(
            template_id=settings.NOTIFY_LETTER_TEMPLATE_ID,
            personalisation=personalisation | {"body": body}, reference=reference or None)
        return answer["id"]

    def find(self, reference: str) -> str | None:
        found = self.client.get_all_notifications(template_type="letter", reference=reference)
        notifications = found.get("notifications") or []
        return notifications[0]["id"] if notifications else None
