"""Writing a message and sending it.

`queue(...)` writes the message in the caller's transaction and sends it once that commits:
email through Django's email backend (SMTP, or files in TANDEM_OUTBOX_DIR/email when no mail
server is set, in-memory in tests), text messages through the provider interface
(tandem.outbox.sms). A failure never reaches the person who asked: the message is left
"failed" with the reason, and the worker tries it again (tasks.retry_messages) a few times
with growing pauses. Letters are never sent: staff print them (`printed`).

A secret in a message (an invitation's link or code) is marked with `secret(...)`: it is sent
as it is, and replaced in the stored text once the message is sent or printed.
"""

from __future__ import annotations

import datetime
import logging
import re

from django.core.mail import EmailMessage
from django.core.mail.message import make_msgid
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from tandem.outbox import sms
from tandem.outbox.models import Channel, Message, Status

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Messages older than this are not tried again: what they said (a link, a code) has expired.
RETRY_WITHIN = datetime.timedelta(days=1)
OPEN, CLOSE = "\u27e6", "\u27e7"
SECRET = re.compile(f"{OPEN}(.*?){CLOSE}", re.S)
REMOVED = "[removed once sent]"


def secret(value: str) -> str:
    """Mark `value` in a message's text as a secret, replaced once the message has gone."""
    return f"{OPEN}{value}{CLOSE}"


def readable(text: str) -> str:
    """The text as it is sent: the secrets as they are, without their marks."""
    return SECRET.sub(lambda m: m.group(1), text)


def redacted(text: str) -> str:
    """The text as it is kept after sending: each secret replaced."""
    return SECRET.sub(REMOVED, text)


def queue(*, organisation, channel: str, recipient: str, body: str, kind: str,
          subject: str = "", patient=None, created_by=None) -> Message:
    """Write a message; an email or text message is sent once the caller's transaction has
    committed (never for one rolled back). A letter waits to be printed."""
    if channel in (Channel.EMAIL, Channel.SMS) and not recipient:
        raise ValueError(f"a {channel} message needs a recipient")
    message = Message.objects.create(
        organisation=organisation, patient=patient, channel=channel, recipient=recipient,
        subject=subject, body=body, kind=kind, created_by=created_by)
    if channel != Channel.LETTER:
        transaction.on_commit(lambda: deliver(message.pk))
    return message


send = queue  # "outbox.send(...)" reads as well


def deliver(message_id) -> Message:
    """Try to send one queued or failed message now. Never raises for a failure to send:
    the message is left failed with the reason, and a retry is queued for the worker."""
    message = Message.objects.get(pk=message_id)
    if message.channel == Channel.LETTER or message.status not in (Status.QUEUED,
                                                                   Status.FAILED):
        return message
    # Claim this attempt (no row lock is held while a mail server is waited for): of two
    # workers trying the same message at once, only the one whose update counted sends.
    claimed = Message.objects.filter(pk=message.pk, attempts=message.attempts,
                                     status__in=[Status.QUEUED, Status.FAILED]
                                     ).update(attempts=message.attempts + 1)
    if not claimed:
        return Message.objects.get(pk=message.pk)
    message.attempts += 1
    try:
        reference = _send(message)
    except Exception as error:  # noqa: BLE001 - whatever the mail server or provider said
        log.warning("message %s could not be sent: %s", message.pk, error)
        message.status = Status.FAILED
        message.last_error = (str(error) or type(error).__name__)[:500]
        Message.objects.filter(pk=message.pk).update(status=message.status,
                                                     last_error=message.last_error)
        _retry_later(message)
    else:
        message.status, message.sent_at = Status.SENT, timezone.now()
        message.provider_reference, message.last_error = reference[:200], ""
        message.body = redacted(message.body)
        Message.objects.filter(pk=message.pk).update(
            status=message.status, sent_at=message.sent_at, body=message.body,
            provider_reference=message.provider_reference, last_error="")
    return message


def _send(message: Message) -> str:
    body = readable(message.body)
    if message.channel == Channel.EMAIL:
        reference = make_msgid()
        email = EmailMessage(message.subject, body, None, [message.recipient],
                             headers={"Message-ID": reference})
        if email.send() != 1:
            raise RuntimeError("the email backend did not send the message")
        return reference
    return sms.backend().send(message.recipient, body)


def pause_before(attempt: int) -> datetime.timedelta:
    """How long to wait before the next try after `attempt` tries: 1, 4, 16, 64 minutes."""
    return datetime.timedelta(minutes=4 ** (attempt - 1))


def _retry_later(message: Message) -> None:
    if message.attempts >= MAX_ATTEMPTS:
        return
    try:
        retry_messages.using(run_after=timezone.now() + pause_before(message.attempts)
                             ).enqueue()
    except Exception:  # noqa: BLE001 - the worker's next run finds the message anyway
        log.exception("could not queue a retry of message %s", message.pk)


def retry_due(now: datetime.datetime | None = None) -> list:
    """The ids of messages to try again: queued or failed, tried fewer than MAX_ATTEMPTS
    times, written within RETRY_WITHIN (a queued one more than a minute ago, so one still
    being sent by its request is left to it)."""
    now = now or timezone.now()
    due = Message.objects.exclude(channel=Channel.LETTER).filter(
        attempts__lt=MAX_ATTEMPTS, created_at__gte=now - RETRY_WITHIN)
    waiting = Q(status=Status.FAILED) | Q(status=Status.QUEUED,
                                           created_at__lt=now - datetime.timedelta(minutes=1))
    return list(due.filter(waiting).order_by("created_at").values_list("pk", flat=True))


def printed(message: Message) -> Message:
    """A letter staff printed (to hand over or post): marked printed, its secrets removed."""
    Message.objects.filter(pk=message.pk).update(
        status=Status.PRINTED, sent_at=timezone.now(), body=redacted(message.body))
    message.refresh_from_db()
    return message


@task()
def retry_messages() -> dict:
    """Try again every message due for it (`retry_due`); run by `tandem worker`, queued
    after each failure with a growing pause. Returns how many were sent and failed."""
    counts = {"sent": 0, "failed": 0}
    for message_id in retry_due():
        message = deliver(message_id)
        if message.status in (Status.SENT, Status.FAILED):
            counts[message.status] += 1
    return counts
