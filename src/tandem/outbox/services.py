"""Writing a message and sending it.

`queue(...)` writes the message in the caller's transaction and, once that commits, either
sends it at once (`inline=True`, the default: what staff send from their pages) or leaves it
to the worker (`inline=False`: what a visitor asks for on the public pages, so that the
page's answer does not wait for the mail server or text provider; in the demo, which runs
no worker, at once too). Email goes through Django's
email backend (SMTP; files in TANDEM_OUTBOX_DIR/email only for the demo and development;
in-memory in tests), text messages through the provider interface (tandem.outbox.sms). A
failure never reaches the person who asked: the message is left "failed" with the reason,
and the worker tries it again (tasks.retry_messages) a few times with growing pauses. Letters
are never sent: staff print them (`printed`).

A secret in a message (an invitation's link or code) is marked with `secret(...)`: it is sent
as it is, and replaced in the stored text once the message is sent or printed, once it is
given up (MAX_ATTEMPTS tries, or older than RETRY_WITHIN), or once it is withdrawn because
what it carried no longer works (`withdraw`; a message withdrawn while it is being sent stays
withdrawn).
"""

from __future__ import annotations

import datetime
import logging
import re
import time
import uuid

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import make_msgid
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from tandem.core.reminders import Pace, Window, next_in_window
from tandem.outbox import letters, sms
from tandem.outbox.models import Channel, Message, Status

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Messages older than this are not tried again: what they said (a link, a code) has expired.
RETRY_WITHIN = datetime.timedelta(days=1)
OPEN, CLOSE = "\u27e6", "\u27e7"
SECRET = re.compile(f"{OPEN}(.*?){CLOSE}", re.S)
REMOVED = "[removed once sent]"
# How far past RETRY_WITHIN `give_up` still looks: a worker stopped for longer leaves the
# secrets of what it never sent (links and codes that have long expired: an invitation's
# after TANDEM_PORTAL_INVITATION_DAYS, a reset link's after three days).
GIVE_UP_MARGIN = datetime.timedelta(days=30)


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
          subject: str = "", patient=None, created_by=None, inline: bool = True) -> Message:
    """Write a message; an email or text message is sent once the caller's transaction has
    committed (never for one rolled back): at once, or with `inline=False` by the worker,
    which the caller wakes (`wake_worker`). A letter waits to be printed."""
    if channel in (Channel.EMAIL, Channel.SMS) and not recipient:
        raise ValueError(f"a {channel} message needs a recipient")
    message = Message.objects.create(
        organisation=organisation, patient=patient, channel=channel, recipient=recipient,
        subject=subject, body=body, kind=kind, created_by=created_by)
    # The demo runs no worker (`tandem demo --serve`): what it would leave to one goes at once.
    if channel != Channel.LETTER and (inline or getattr(settings, "DEMO", False)):
        transaction.on_commit(lambda: deliver(message.pk))
    return message


def wake_worker() -> None:
    """Once the caller's transaction commits, queue the worker's task that sends what is
    waiting (`retry_messages`), unless one is already queued to run now: a page asked for a
    thousand times queues one task, not a thousand. The public pages call it whether or not
    they wrote a message, and it looks for a waiting task either way, so that their answer
    takes the same time either way."""
    transaction.on_commit(_wake)


def _wake() -> None:
    try:
        waiting = DBTaskResult.objects.ready().filter(
            task_path=retry_messages.module_path).exists()
    except Exception:  # noqa: BLE001 - queue one rather than none
        log.exception("could not look for a queued sending of messages")
        waiting = False
    if not waiting:
        _enqueue_retry()


def _enqueue_retry(run_after=None) -> None:
    try:
        (retry_messages.using(run_after=run_after) if run_after else retry_messages).enqueue()
    except Exception:  # noqa: BLE001 - the worker's next run finds the messages anyway
        log.exception("could not queue the sending of messages")


NOT_TO_BE_CONTACTED = 'Not sent: "do not contact" was recorded.'


def not_to_be_contacted(messages):
    """Those of these messages whose patient is not to be contacted ("do not contact" on
    their details), except a letter to hand over in person (no address): nothing is
    emailed, texted or posted to them."""
    return messages.filter(patient__do_not_contact=True).exclude(channel=Channel.LETTER,
                                                                 recipient="")


def deliver(message_id) -> Message:
    """Try to send one queued or failed message now. Never raises for a failure to send:
    the message is left failed with the reason, and a retry is queued for the worker."""
    message = Message.objects.get(pk=message_id)
    if message.channel == Channel.LETTER or message.status not in (Status.QUEUED,
                                                                   Status.FAILED):
        return message
    if withdraw(not_to_be_contacted(Message.objects.filter(pk=message.pk)),
                NOT_TO_BE_CONTACTED):  # recorded since it was written
        return Message.objects.get(pk=message.pk)
    # Claim it (no row lock is held while a mail server is waited for): of two workers or
    # pages trying the same message at once, only the one whose update counted sends it.
    claim = uuid.uuid4().hex
    claimed = Message.objects.filter(pk=message.pk, status__in=WAITING).update(
        status=Status.SENDING, claimed_at=timezone.now(), claim=claim,
        attempts=F("attempts") + 1)
    if not claimed:
        return Message.objects.get(pk=message.pk)
    message.refresh_from_db(fields=["attempts", "status", "claimed_at", "claim"])
    return _send_claimed(message)


WAITING = (Status.QUEUED, Status.FAILED)


def _send_claimed(message: Message, pace=None, checked: bool = False) -> Message:
    """Send a message this caller claimed (SENDING), and record what happened. What this
    attempt writes when it ends is written only if the message is still as claimed: one
    withdrawn while it was being sent stays withdrawn, without its secrets, never retried."""
    still_claimed = Message.objects.filter(pk=message.pk, status=Status.SENDING,
                                           claim=message.claim)
    try:
        if pace is not None:
            pause = pace.wait()
            if pause:
                time.sleep(pause)
        # Still ours, just before it goes (and marked so): a message given back to the queue
        # meanwhile (`release`, `recover_stuck`) or withdrawn is not sent by this caller.
        # (`checked`: the worker has just looked, for a few messages at once.)
        if not checked and not still_claimed.update(claimed_at=timezone.now()):
            return Message.objects.get(pk=message.pk)
        reference = _send(message)
    except Exception as error:  # noqa: BLE001 - whatever the mail server or provider said
        log.warning("message %s could not be sent: %s", message.pk, error)
        message.status = Status.FAILED
        message.last_error = (str(error) or type(error).__name__)[:500]
        if message.attempts >= MAX_ATTEMPTS and message.expires_at is None:
            message.body = redacted(message.body)  # given up: what it carried goes
        message.send_after = in_window(message, timezone.now() + pause_before(message.attempts))
        if not still_claimed.update(status=message.status, last_error=message.last_error,
                                    body=message.body, send_after=message.send_after):
            return Message.objects.get(pk=message.pk)
        if pace is None:
            _retry_later(message)
    else:
        message.status, message.sent_at = Status.SENT, timezone.now()
        message.provider_reference, message.last_error = reference[:200], ""
        message.body = redacted(message.body)
        if not still_claimed.update(
                status=message.status, sent_at=message.sent_at, body=message.body,
                provider_reference=message.provider_reference, last_error=""):
            # Withdrawn while it went: it stays withdrawn, and when it went is kept.
            Message.objects.filter(pk=message.pk, status=Status.WITHDRAWN).update(
                sent_at=message.sent_at, provider_reference=message.provider_reference)
            return Message.objects.get(pk=message.pk)
    return message


def in_window(message: Message, at: datetime.datetime) -> datetime.datetime:
    """`at`, or the next opening of the message's window of the day (the patient's), if it
    has one and `at` is outside it."""
    if message.window_opens is None or message.window_closes is None:
        return at
    window = Window(message.window_opens, message.window_closes)
    local = timezone.localtime(at).replace(tzinfo=None)
    return at if window.holds(local.time()) else timezone.make_aware(
        next_in_window(local, window))


def _send(message: Message) -> str:
    body = readable(message.body)
    if message.attempts > 1 and message.channel != Channel.EMAIL:
        # Tried before: the provider may have taken it while its answer was lost (a
        # timeout). Asked first, by the message's own id, so that it never goes twice.
        try:
            provider = letters.backend() if message.channel == Channel.LETTER else sms.backend()
            found = provider.find(str(message.pk))
        except NotImplementedError:
            found = None
        if found:
            return found
    if message.channel == Channel.LETTER:
        name = message.patient.name if message.patient_id else ""
        return letters.backend().send(name, message.recipient.splitlines(), body,
                                      reference=str(message.pk))
    if message.channel == Channel.EMAIL:
        # The message's own id in its Message-ID: a mail client shows two copies of one
        # message as one.
        reference = make_msgid(idstring=str(message.pk))
        email = EmailMessage(message.subject, body, None, [message.recipient],
                             headers={"Message-ID": reference})
        if email.send() != 1:
            raise RuntimeError("the email backend did not send the message")
        return reference
    return sms.backend().send(message.recipient, body, reference=str(message.pk))


# --- the worker's sending ----------------------------------------------------------------

CLAIM_BATCH = 200
# A message "being sent" for longer than this was left by a worker that stopped (a crash, a
# restart): `recover_stuck` finds out from the provider whether it went.
STUCK_AFTER = datetime.timedelta(minutes=5)
UNKNOWN = "unknown: the worker stopped while sending"  # as the provider's id: never re-sent
MAY_HAVE_GONE = ("The worker stopped while sending this, and the mail server cannot be asked "
                 "whether it went: not sent again, so that it never arrives twice.")


def _waiting_now(now):
    """Messages whose time has come. Letters go only through a letter provider, and only
    those with a postal address (one handed over in person, like a portal invitation, is
    printed). A message a provider took (it has the provider's id) is never sent again, even
    one the provider later said failed."""
    due = Message.objects.filter(
        Q(expires_at__gt=now) | Q(expires_at__isnull=True, attempts__lt=MAX_ATTEMPTS,
                                  created_at__gte=now - RETRY_WITHIN),
        status__in=WAITING, send_after__lte=now, provider_reference="")
    if letters.by_provider():
        return due.exclude(channel=Channel.LETTER, recipient="")
    return due.exclude(channel=Channel.LETTER)


def _due(now):
    """Messages that may go now: those whose time has come, to no one not to be contacted
    (`send_due` withdraws theirs)."""
    return _waiting_now(now).filter(Q(patient__isnull=True) | Q(patient__do_not_contact=False))


def claim(limit: int = CLAIM_BATCH, now=None) -> list[Message]:
    """Take up to `limit` messages that may go now, oldest first, for this worker alone: they
    are marked SENDING in one short transaction. On PostgreSQL the rows are read with
    `FOR UPDATE SKIP LOCKED`, so two workers take different messages at once; SQLite's
    transactions here take its write lock at their start, so two workers take turns."""
    now = now or timezone.now()
    if not _due(now).exists():  # nothing waiting: no write lock taken (SQLite) for nothing
        return []
    claim = uuid.uuid4().hex
    with transaction.atomic():
        ids = list(_due(now).select_for_update(skip_locked=True, of=("self",))
                   .order_by("send_after")
                   .values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        Message.objects.filter(pk__in=ids, status__in=WAITING).update(
            status=Status.SENDING, claimed_at=now, claim=claim, attempts=F("attempts") + 1)
    return list(Message.objects.filter(pk__in=ids, status=Status.SENDING, claim=claim)
                .order_by("send_after"))


# A batch still being sent after this gives the rest back to the queue, well before another
# worker could take its messages for ones a stopped worker left (STUCK_AFTER).
RELEASE_AFTER = datetime.timedelta(minutes=2)
CHECK_EVERY = 20  # messages looked at together, just before they go


def send_due(limit: int = CLAIM_BATCH, now=None, paces=None) -> dict:
    """Send what may go now (`claim`), each channel at its provider's pace
    (settings.OUTBOX_RATE), each in its window of the day (one claimed outside it, after a
    backlog or a restart, waits for the next opening). Returns how many were sent and
    failed."""
    paces = paces if paces is not None else worker_paces()
    counts = {"sent": 0, "failed": 0}
    started = time.monotonic()
    # Written for a patient just before "do not contact" was recorded (a planning run, an
    # answer sent as it happened): withdrawn, never sent.
    withdraw(not_to_be_contacted(_waiting_now(now or timezone.now())), NOT_TO_BE_CONTACTED)
    batch = claim(limit, now)
    for start in range(0, len(batch), CHECK_EVERY):
        if time.monotonic() - started > RELEASE_AFTER.total_seconds():
            release(batch[start:])
            break
        few = batch[start:start + CHECK_EVERY]
        # Still ours, just before they go: one given back or withdrawn meanwhile is skipped.
        ours = set(Message.objects.filter(pk__in=[m.pk for m in few], status=Status.SENDING,
                                          claim=few[0].claim).values_list("pk", flat=True))
        for message in few:
            if message.pk not in ours:
                continue
            opening = in_window(message, now or timezone.now())
            if opening > (now or timezone.now()):
                release([message], send_after=opening)
                continue
            message = _send_claimed(message, paces.get(message.channel), checked=True)
            if message.status in (Status.SENT, Status.FAILED):
                counts[message.status] += 1
    return counts


def release(messages, send_after=None) -> int:
    """Give claimed messages not sent back to the queue (this attempt not counted)."""
    changed = 0
    for message in messages:
        fields = {"send_after": send_after} if send_after else {}
        changed += Message.objects.filter(
            pk=message.pk, status=Status.SENDING, claim=message.claim).update(
            status=Status.QUEUED, claim="", claimed_at=None, attempts=F("attempts") - 1,
            **fields)
    return changed


def worker_paces() -> dict:
    rates = getattr(settings, "OUTBOX_RATE", {})
    return {channel: Pace(rate, time.monotonic) for channel, rate in rates.items()}


def recover_stuck(now=None) -> dict:
    """Messages left SENDING by a worker that stopped (claimed before STUCK_AFTER): the
    provider is asked for the message by its reference (the message's id). Found: it went,
    and is marked sent with the provider's id. Not found: it never reached the provider, and
    waits to be sent again. A provider that cannot be asked (a mail server): failed, with the
    reason, never sent twice. Returns how many of each."""
    now = now or timezone.now()
    counts = {"sent": 0, "queued": 0, "failed": 0}
    stuck = Message.objects.filter(status=Status.SENDING, claimed_at__lt=now - STUCK_AFTER)
    for message in stuck:
        mine = Message.objects.filter(pk=message.pk, status=Status.SENDING,
                                      claim=message.claim)
        try:
            if message.channel == Channel.EMAIL:
                raise NotImplementedError
            provider = sms.backend() if message.channel == Channel.SMS else letters.backend()
            found = provider.find(str(message.pk))
        except NotImplementedError:
            counts["failed"] += mine.update(status=Status.FAILED, last_error=MAY_HAVE_GONE,
                                            body=redacted(message.body),
                                            provider_reference=UNKNOWN)
            continue
        except Exception:  # noqa: BLE001 - the provider could not be asked: ask next time
            log.warning("could not ask the provider about message %s", message.pk,
                        exc_info=True)
            continue
        if found:
            counts["sent"] += mine.update(status=Status.SENT, sent_at=message.claimed_at,
                                          provider_reference=found[:200],
                                          body=redacted(message.body), last_error="")
        else:
            counts["queued"] += mine.update(status=Status.QUEUED, claimed_at=None)
    return counts


TOO_LATE = "Not sent: the day it was about has passed."


def expire(now=None) -> int:
    """Messages still waiting when the day they were about has passed (`expires_at`) are not
    sent: marked withdrawn, saying so. Letters the service prints wait for it (they are
    printed late rather than never). Returns how many."""
    now = now or timezone.now()
    late = Message.objects.filter(status__in=WAITING, expires_at__lte=now,
                                  provider_reference="")  # not one a provider took
    if not letters.by_provider():
        late = late.exclude(channel=Channel.LETTER)
    return late.update(status=Status.WITHDRAWN, last_error=TOO_LATE)


# --- what the provider says happened ------------------------------------------------------

PROVIDER_STATUSES = {"delivered": Status.DELIVERED, "failed": Status.FAILED,
                     "sent": Status.SENT}


def record_receipt(provider_id: str, outcome: str, reason: str = "", at=None) -> int:
    """The provider's word on a message it accepted: delivered, or failed with the reason
    (a phone switched off for days, a number that does not exist). A later receipt never
    undoes a final one. Returns how many messages it changed (0 or 1)."""
    status = PROVIDER_STATUSES.get(outcome)
    if status is None or not provider_id:
        return 0
    at = at or timezone.now()
    rows = Message.objects.filter(provider_reference=provider_id,
                                  status__in=[Status.SENT, Status.SENDING])
    if status == Status.DELIVERED:
        return rows.update(status=status, delivered_at=at, last_error="")
    if status == Status.FAILED:
        # Not sent again (it has the provider's id): the provider tried; staff see why on
        # the patient's page, and it counts as not answered.
        return rows.update(status=status, last_error=(reason or "not delivered")[:500])
    return 0


POLL_AFTER = datetime.timedelta(minutes=30)
POLL_WITHIN = datetime.timedelta(days=3)


def poll_receipts(now=None, limit: int = 200) -> int:
    """For text messages sent between POLL_AFTER and POLL_WITHIN ago with no receipt yet
    (a callback lost, or none set up): ask the provider. Returns how many changed."""
    now = now or timezone.now()
    waiting = Message.objects.filter(channel=Channel.SMS, status=Status.SENT,
                                     sent_at__lt=now - POLL_AFTER,
                                     sent_at__gte=now - POLL_WITHIN).exclude(
        provider_reference="").values_list("provider_reference", flat=True)[:limit]
    changed = 0
    backend = sms.backend() if waiting else None
    for provider_id in waiting:
        try:
            known = backend.status(provider_id)
        except Exception:  # noqa: BLE001 - ask again next time
            log.warning("could not ask the provider about %s", provider_id, exc_info=True)
            continue
        if known:
            changed += record_receipt(provider_id, *known, at=now)
    return changed


def pause_before(attempt: int) -> datetime.timedelta:
    """How long to wait before the next try after `attempt` tries: 1, 4, 16, 64 minutes."""
    return datetime.timedelta(minutes=4 ** (attempt - 1))


def _retry_later(message: Message) -> None:
    if message.attempts >= MAX_ATTEMPTS:
        return
    _enqueue_retry(run_after=timezone.now() + pause_before(message.attempts))


def retry_due(now: datetime.datetime | None = None) -> list:
    """The ids of messages to send or try again: queued or failed, not waiting for their
    time (`send_after`), and still worth sending (before `expires_at`; without one, tried
    fewer than MAX_ATTEMPTS times and written within RETRY_WITHIN). (A queued one its
    request is sending at the same moment is sent once: `deliver` claims each attempt.)"""
    now = now or timezone.now()
    return list(_due(now).order_by("send_after").values_list("pk", flat=True))


def give_up(now: datetime.datetime | None = None) -> int:
    """Remove the secrets of messages that will not be tried again (MAX_ATTEMPTS tries, or
    written before RETRY_WITHIN): what they carried has expired or should not go now. Their
    status stays (failed, or queued: never sent). Only messages written within RETRY_WITHIN
    and GIVE_UP_MARGIN are looked at (by the status and date index), not every message ever
    written, on each run. Returns how many were changed."""
    now = now or timezone.now()
    stale = Message.objects.exclude(channel=Channel.LETTER).filter(
        Q(attempts__gte=MAX_ATTEMPTS) | Q(created_at__lt=now - RETRY_WITHIN),
        status__in=[Status.QUEUED, Status.FAILED], body__contains=OPEN, expires_at__isnull=True,
        created_at__gte=now - RETRY_WITHIN - GIVE_UP_MARGIN)
    changed = 0
    for message in stale.only("pk", "body"):
        changed += Message.objects.filter(pk=message.pk, body=message.body).update(
            body=redacted(message.body))
    return changed


def withdraw(messages, reason: str) -> int:
    """These messages (a queryset) are no longer to be sent or printed: what they carried no
    longer works. Those not yet sent or printed are marked withdrawn with `reason`, and their
    secrets removed. Returns how many."""
    changed = 0
    unsent = [Status.QUEUED, Status.FAILED, Status.SENDING]
    for message in messages.filter(status__in=unsent).only("pk", "body"):
        changed += Message.objects.filter(pk=message.pk, status__in=unsent).update(
            status=Status.WITHDRAWN, body=redacted(message.body), last_error=reason[:500])
    return changed


def printed(message: Message) -> Message:
    """A letter staff printed (to hand over or post): marked printed, its secrets removed.
    Only one still waiting (not one a provider is posting, or withdrawn meanwhile)."""
    Message.objects.filter(pk=message.pk, status__in=WAITING).update(
        status=Status.PRINTED, sent_at=timezone.now(), body=redacted(message.body))
    message.refresh_from_db()
    return message


@task()
def retry_messages() -> dict:
    """Send every message waiting for the worker and try again every one due for it
    (`retry_due`), then remove the secrets of those given up (`give_up`); run by `tandem
    worker`, queued by the public pages and after each failure with a growing pause.
    Returns how many were sent and failed."""
    counts = {"sent": 0, "failed": 0}
    for message_id in retry_due():
        message = deliver(message_id)
        if message.status in (Status.SENT, Status.FAILED):
            counts[message.status] += 1
    give_up()
    return counts
