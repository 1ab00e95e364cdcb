"""The outbox: a message is written, then sent once its transaction commits; a failure is
kept with the reason (never an error page) and tried again by the worker's task; text
messages go through the provider interface; secrets are not kept once sent."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone

from tandem.outbox import services as outbox
from tandem.outbox import sms
from tandem.outbox.models import Message
from tandem.outbox.tasks import retry_messages


@pytest.fixture
def locmem_sms(settings):
    settings.SMS_BACKEND = "tandem.outbox.sms.LocmemBackend"
    sms.LocmemBackend.outbox.clear()
    yield sms.LocmemBackend.outbox
    sms.LocmemBackend.outbox.clear()


def queue(world, channel="email", recipient="pat@example.org", body="Hello", **kw):
    return outbox.queue(organisation=world.org, patient=world.p1, channel=channel,
                        recipient=recipient, body=body, kind="test", subject="Hi", **kw)


def test_an_email_is_sent_after_commit_and_marked_sent(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(world, body=f"Your link: {outbox.secret('https://x/join/SECRET/')}")
        assert mail.outbox == []  # not before the transaction commits
    assert [m.to for m in mail.outbox] == [["pat@example.org"]]
    assert "https://x/join/SECRET/" in mail.outbox[0].body
    assert outbox.OPEN not in mail.outbox[0].body
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 1)
    assert message.sent_at is not None and message.provider_reference
    assert "SECRET" not in message.body and outbox.REMOVED in message.body


def test_nothing_is_sent_for_a_change_rolled_back(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                queue(world)
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
    assert mail.outbox == [] and not Message.objects.exists()


def test_a_text_message_goes_through_the_provider(world, locmem_sms,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(world, channel="sms", recipient="07700 900123", body="Code 123456")
    assert locmem_sms == [("07700 900123", "Code 123456")]
    message.refresh_from_db()
    assert message.status == "sent" and message.provider_reference == "locmem-1"


def test_the_sms_file_backend_writes_a_readable_file_per_message(tmp_path):
    backend = sms.FileBackend(tmp_path)
    first = backend.send("07700 900123", "Your code is 123456")
    backend.send("07700 900999", "Another")
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2
    text = next(f for f in files if first in f.name).read_text()
    assert "To: 07700 900123" in text and "Your code is 123456" in text


def test_the_default_sms_backend_writes_into_the_outbox_directory(world, settings, tmp_path,
                                                                  django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "tandem.outbox.sms.FileBackend"
    settings.OUTBOX_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        queue(world, channel="sms", recipient="07700 900123", body="Hello from the file")
    [written] = list(Path(tmp_path, "sms").iterdir())
    assert "Hello from the file" in written.read_text()


def test_a_failed_send_is_kept_with_the_reason_and_retried(world, settings,
                                                           django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "tandem.outbox.sms.FailingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(world, channel="sms", recipient="07700 900123")
    message.refresh_from_db()
    assert message.status == "failed" and message.attempts == 1
    assert "refused" in message.last_error
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.filter(task_path__endswith="retry_messages").exists()
    settings.SMS_BACKEND = "tandem.outbox.sms.LocmemBackend"
    sms.LocmemBackend.outbox.clear()
    assert retry_messages.call() == {"sent": 0, "failed": 0}  # not before its pause
    with time_machine.travel(timezone.now() + outbox.pause_before(1)):
        assert retry_messages.call() == {"sent": 1, "failed": 0}
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, "")


def test_a_failing_mail_server_never_raises(world, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.test_outbox.BrokenEmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(world)
    message.refresh_from_db()
    assert message.status == "failed" and "connection refused" in message.last_error


def test_retries_stop_after_five_tries_and_after_a_day(world, settings):
    settings.SMS_BACKEND = "tandem.outbox.sms.FailingBackend"
    tired = queue(world, channel="sms", recipient="1")
    Message.objects.filter(pk=tired.pk).update(status="failed", attempts=outbox.MAX_ATTEMPTS)
    old = queue(world, channel="sms", recipient="2")
    Message.objects.filter(pk=old.pk).update(
        status="failed", created_at=timezone.now() - datetime.timedelta(days=2))
    fresh = queue(world, channel="sms", recipient="3")
    Message.objects.filter(pk=fresh.pk).update(status="failed")
    assert outbox.retry_due() == [fresh.pk]


def test_a_letter_is_never_sent_but_printed(world):
    letter = queue(world, channel="letter", recipient="", body=f"Code {outbox.secret('ABCD')}")
    assert outbox.deliver(letter.pk).status == "queued" and mail.outbox == []
    outbox.printed(letter)
    assert letter.status == "printed" and "ABCD" not in letter.body


def test_an_email_or_text_needs_a_recipient(world):
    with pytest.raises(ValueError):
        queue(world, recipient="")


class BrokenEmailBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("connection refused")


def test_a_message_given_up_after_its_last_try_keeps_no_secret(world, settings,
                                                                django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "tandem.outbox.sms.FailingBackend"
    message = queue(world, channel="sms", recipient="07700 900123",
                    body=f"Code {outbox.secret('123456')}")
    Message.objects.filter(pk=message.pk).update(status="failed",
                                                 attempts=outbox.MAX_ATTEMPTS - 1)
    outbox.deliver(message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert "123456" not in message.body and outbox.REMOVED in message.body


def test_the_worker_removes_the_secrets_of_messages_too_old_to_try(world, settings):
    settings.SMS_BACKEND = "tandem.outbox.sms.FailingBackend"
    old = queue(world, channel="sms", recipient="1", body=f"Code {outbox.secret('654321')}")
    Message.objects.filter(pk=old.pk).update(
        status="failed", created_at=timezone.now() - outbox.RETRY_WITHIN
        - datetime.timedelta(minutes=1))
    retry_messages.call()
    old.refresh_from_db()
    assert old.status == "failed" and "654321" not in old.body


def test_a_withdrawn_message_is_not_sent_and_keeps_no_secret(world):
    message = queue(world, body=f"Link {outbox.secret('https://x/join/SECRET/')}")
    assert outbox.withdraw(Message.objects.filter(pk=message.pk), "not needed") == 1
    assert retry_messages.call() == {"sent": 0, "failed": 0} and mail.outbox == []
    message.refresh_from_db()
    assert message.status == "withdrawn" and "SECRET" not in message.body


def test_a_message_left_to_the_worker_is_sent_by_it(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(world, inline=False)
        outbox.wake_worker()
    assert mail.outbox == []
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.filter(task_path__endswith="retry_messages").exists()
    assert outbox.retry_due() == [message.pk]  # at once: not a minute later
    assert retry_messages.call() == {"sent": 1, "failed": 0}
    assert [m.to for m in mail.outbox] == [["pat@example.org"]]


def test_without_a_provider_a_text_message_fails_with_plain_words(world, settings,
                                                                   django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = ""
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(world, channel="sms", recipient="07700 900123")
    message.refresh_from_db()
    assert message.status == "failed"
    assert message.last_error == "Text messages are not set up for this service."


# --- the second review: one waiting task, a bounded scan, withdrawal in flight, the demo ----


def ready_tasks():
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.ready().filter(task_path__endswith="retry_messages")


def test_waking_the_worker_again_queues_no_second_task_while_one_waits(
        world, django_capture_on_commit_callbacks):
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            outbox.wake_worker()
    assert ready_tasks().count() == 1


def test_a_retry_waiting_for_later_does_not_hold_back_what_should_go_now(
        world, django_capture_on_commit_callbacks):
    outbox._enqueue_retry(run_after=timezone.now() + datetime.timedelta(minutes=16))
    assert ready_tasks().count() == 0  # queued, but not to run yet
    with django_capture_on_commit_callbacks(execute=True):
        outbox.wake_worker()
    assert ready_tasks().count() == 1


def test_giving_up_looks_only_at_messages_of_the_last_weeks(world):
    now = timezone.now()
    recent = queue(world, channel="sms", recipient="1", body=f"Code {outbox.secret('111111')}")
    ancient = queue(world, channel="sms", recipient="2", body=f"Code {outbox.secret('222222')}")
    Message.objects.filter(pk=recent.pk).update(created_at=now - outbox.RETRY_WITHIN * 2)
    Message.objects.filter(pk=ancient.pk).update(
        created_at=now - outbox.RETRY_WITHIN - outbox.GIVE_UP_MARGIN - datetime.timedelta(1))
    assert outbox.give_up(now) == 1
    recent.refresh_from_db()
    ancient.refresh_from_db()
    assert "111111" not in recent.body
    assert "222222" in ancient.body  # not looked at again on every run, for ever


class WithdrawnWhileSending(sms.SmsBackend):
    """Staff withdraw the message while the provider is still sending it."""

    fail = False

    def send(self, to, body, reference=""):
        outbox.withdraw(Message.objects.filter(recipient=to), "not needed: suspended")
        if WithdrawnWhileSending.fail:
            raise sms.SmsError("the provider timed out")
        return "ref-1"


@pytest.mark.parametrize("fails", [True, False])
def test_a_message_withdrawn_while_being_sent_stays_withdrawn_without_its_secret(
        world, settings, fails, monkeypatch, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "tests.test_outbox.WithdrawnWhileSending"
    monkeypatch.setattr(WithdrawnWhileSending, "fail", fails)
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(world, channel="sms", recipient="07700 900777",
                        body=f"Code {outbox.secret('987654')}")
    message.refresh_from_db()
    assert message.status == "withdrawn"
    assert "987654" not in message.body
    assert outbox.retry_due() == [] and ready_tasks().count() == 0
    if not fails:
        assert message.sent_at is not None  # it went: when is kept


def test_in_the_demo_what_would_wait_for_the_worker_is_sent_at_once(
        world, settings, django_capture_on_commit_callbacks):
    settings.DEMO = True
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(world, inline=False)
    message.refresh_from_db()
    assert message.status == "sent" and [m.to for m in mail.outbox] == [["pat@example.org"]]
