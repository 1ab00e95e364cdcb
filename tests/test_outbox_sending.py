"""The worker's sending: each message sent once, even with two workers at once (PostgreSQL:
FOR UPDATE SKIP LOCKED) or a crash between the provider's accept and the local update; a
provider's pace kept; a provider outage leaves messages waiting; delivery receipts from GOV.UK
Notify, with its bearer token checked, and polling where none came."""

from __future__ import annotations

import datetime
import json
import threading
import time

import pytest
from django.db import connections
from django.utils import timezone

from tandem.core.reminders import Pace
from tandem.outbox import notify, sms
from tandem.outbox import services as outbox
from tandem.outbox.models import Message
from tandem.patients.models import Patient


@pytest.fixture
def locmem(settings):
    settings.SMS_BACKEND = "tandem.outbox.sms.LocmemBackend"
    sms.LocmemBackend.outbox.clear()
    sms.LocmemBackend.references.clear()
    yield sms.LocmemBackend
    sms.LocmemBackend.outbox.clear()
    sms.LocmemBackend.references.clear()


def texts(org, n, **kw):
    now = timezone.now()
    return Message.objects.bulk_create([
        Message(organisation=org, channel="sms", recipient=f"0770090{i:04d}", kind="test",
                body=f"Hello {i}", send_after=now - datetime.timedelta(seconds=1),
                expires_at=now + datetime.timedelta(days=1), **kw) for i in range(n)])


def test_send_due_sends_what_may_go_now_and_leaves_the_rest(world, locmem):
    ready = texts(world.org, 3)
    later = Message.objects.create(organisation=world.org, channel="sms", recipient="1",
                                   kind="test", body="later",
                                   send_after=timezone.now() + datetime.timedelta(hours=2))
    expired = Message.objects.create(organisation=world.org, channel="sms", recipient="2",
                                     kind="test", body="too late",
                                     expires_at=timezone.now() - datetime.timedelta(minutes=1))
    assert outbox.send_due(paces={}) == {"sent": 3, "failed": 0}
    assert sorted(b for _to, b in locmem.outbox) == ["Hello 0", "Hello 1", "Hello 2"]
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert [statuses[m.pk] for m in ready] == ["sent"] * 3
    assert statuses[later.pk] == "queued" and statuses[expired.pk] == "queued"
    # The provider keeps each message's own id as its reference.
    assert set(locmem.references) == {str(m.pk) for m in ready}


def test_a_provider_outage_leaves_messages_waiting_with_a_growing_pause(world, settings):
    settings.SMS_BACKEND = "tandem.outbox.sms.FailingBackend"
    [message] = texts(world.org, 1)
    assert outbox.send_due(paces={}) == {"sent": 0, "failed": 1}
    message.refresh_from_db()
    assert message.status == "failed" and message.attempts == 1 and message.body == "Hello 0"
    assert message.send_after > timezone.now() + datetime.timedelta(seconds=50)
    assert outbox.send_due(paces={}) == {"sent": 0, "failed": 0}  # not before its pause
    settings.SMS_BACKEND = "tandem.outbox.sms.LocmemBackend"
    assert outbox.send_due(now=message.send_after, paces={}) == {"sent": 1, "failed": 0}


class SlowBackend(sms.LocmemBackend):
    def send(self, to, body, reference=""):
        time.sleep(0.002)
        return super().send(to, body, reference)


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_the_same_message(settings):
    """Two workers, each on its own database connection, against one queue of 300."""
    from tests.conftest import build_world

    if connections["default"].vendor != "postgresql":
        pytest.skip("SQLite's in-memory test database locks whole tables between threads; "
                    "on a file, its transactions take the write lock at their start")
    world = build_world()
    settings.SMS_BACKEND = "tests.test_outbox_sending.SlowBackend"
    sms.LocmemBackend.outbox.clear()
    sms.LocmemBackend.references.clear()
    texts(world.org, 300)
    failures, rounds = [], {0: 0, 1: 0}

    def worker(n):
        try:
            while True:
                counts = outbox.send_due(limit=20, paces={})
                if not counts["sent"]:
                    break
                rounds[n] += 1
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    bodies = [b for _to, b in sms.LocmemBackend.outbox]
    assert len(bodies) == 300 and len(set(bodies)) == 300  # every one, each once
    assert rounds[0] and rounds[1]  # both workers took a share
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_a_crash_after_the_provider_accepted_does_not_send_again(world, locmem):
    sent_one, never_sent = texts(world.org, 2)
    Message.objects.update(send_after=timezone.now() - datetime.timedelta(hours=1))
    # A worker claimed both, the provider accepted the first, then the worker died.
    claimed = outbox.claim(now=timezone.now() - outbox.STUCK_AFTER - datetime.timedelta(
        minutes=1))
    assert len(claimed) == 2
    locmem().send(sent_one.recipient, "Hello 0", reference=str(sent_one.pk))
    assert outbox.send_due(paces={}) == {"sent": 0, "failed": 0}  # both are "being sent"
    assert outbox.recover_stuck() == {"sent": 1, "queued": 1, "failed": 0}
    sent_one.refresh_from_db()
    never_sent.refresh_from_db()
    assert sent_one.status == "sent" and sent_one.provider_reference == "locmem-1"
    assert never_sent.status == "queued"
    assert outbox.send_due(paces={}) == {"sent": 1, "failed": 0}
    assert [b for _to, b in locmem.outbox] == ["Hello 0", "Hello 1"]  # each once


def test_an_email_left_being_sent_is_not_sent_again_and_says_why(world, locmem):
    message = Message.objects.create(organisation=world.org, channel="email",
                                     recipient="pat@example.org", kind="test", body="Hi",
                                     send_after=timezone.now() - datetime.timedelta(hours=1))
    outbox.claim(now=timezone.now() - outbox.STUCK_AFTER - datetime.timedelta(minutes=1))
    assert outbox.recover_stuck() == {"sent": 0, "queued": 0, "failed": 1}
    message.refresh_from_db()
    assert message.status == "failed" and "never arrives twice" in message.last_error
    assert outbox.send_due(paces={}) == {"sent": 0, "failed": 0}


def test_a_pace_keeps_to_its_rate():
    clock = [0.0]
    pace = Pace(2, lambda: clock[0], burst=2)
    assert [pace.wait(), pace.wait()] == [0.0, 0.0]  # the burst
    assert pace.wait() == pytest.approx(0.5)
    clock[0] += 0.5
    assert pace.wait() == pytest.approx(0.5)
    clock[0] += 10
    assert pace.wait() == 0.0
    assert Pace(0, lambda: 0.0).wait() == 0.0  # no limit
    with pytest.raises(ValueError):
        Pace(-1, lambda: 0.0)


def test_the_worker_sleeps_to_keep_a_providers_pace(world, locmem):
    texts(world.org, 5)
    clock = [0.0]
    slept = []

    def fake_sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    import tandem.outbox.services as services

    original = services.time.sleep
    services.time.sleep = fake_sleep
    try:
        outbox.send_due(paces={"sms": Pace(1, lambda: clock[0], burst=1)})
    finally:
        services.time.sleep = original
    assert slept == [pytest.approx(1.0)] * 4


# --- GOV.UK Notify ----------------------------------------------------------------------


class FakeNotify:
    def __init__(self):
        self.sent, self.notifications = [], {}

    def send_sms_notification(self, phone_number, template_id, personalisation=None,
                              reference=None):
        self.sent.append((phone_number, template_id, personalisation, reference))
        nid = f"notify-{len(self.sent)}"
        self.notifications[nid] = {"id": nid, "reference": reference, "status": "sending"}
        return {"id": nid}

    def get_all_notifications(self, template_type=None, reference=None):
        return {"notifications": [n for n in self.notifications.values()
                                  if n["reference"] == reference]}

    def get_notification_by_id(self, nid):
        return self.notifications[nid]


def test_notify_sends_the_words_with_the_messages_own_reference(settings):
    settings.NOTIFY_SMS_TEMPLATE_ID = "tmpl-1"
    fake = FakeNotify()
    backend = notify.NotifySmsBackend(client=fake)
    assert backend.send("07700900123", "Hi Jade", reference="msg-1") == "notify-1"
    assert fake.sent == [("07700900123", "tmpl-1", {"body": "Hi Jade"}, "msg-1")]
    assert backend.find("msg-1") == "notify-1" and backend.find("msg-2") is None
    assert backend.status("notify-1") is None  # still on its way
    fake.notifications["notify-1"]["status"] = "permanent-failure"
    assert backend.status("notify-1") == ("failed", notify.FAILURES["permanent-failure"])


def test_notify_without_its_settings_fails_with_plain_words(settings):
    settings.NOTIFY_API_KEY = ""
    with pytest.raises(sms.SmsError, match="TANDEM_NOTIFY_API_KEY"):
        notify.NotifySmsBackend()


@pytest.fixture
def sent_text(world):
    return Message.objects.create(organisation=world.org, patient=world.p1, channel="sms",
                                  recipient="1", kind="test", body="Hi", status="sent",
                                  provider_reference="notify-9", sent_at=timezone.now())


def receipt(client, body, token="s3cret"):
    return client.post("/outbox/notify/receipts", body, content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"} if token else {})


def test_a_notify_receipt_needs_the_bearer_token(client, settings, sent_text):
    settings.NOTIFY_CALLBACK_TOKEN = "s3cret"
    body = json.dumps({"id": "notify-9", "status": "delivered"})
    assert receipt(client, body, token="wrong").status_code == 401
    assert receipt(client, body, token=None).status_code == 401
    settings.NOTIFY_CALLBACK_TOKEN = ""
    assert receipt(client, body, token="").status_code == 401  # none set: none accepted
    sent_text.refresh_from_db()
    assert sent_text.status == "sent"


def test_a_notify_receipt_records_delivery_or_the_reason_it_failed(client, settings, sent_text):
    settings.NOTIFY_CALLBACK_TOKEN = "s3cret"
    answer = receipt(client, json.dumps({"id": "notify-9", "status": "temporary-failure",
                                         "completed_at": "2026-03-02T10:00:00Z"}))
    assert answer.status_code == 200 and answer.json() == {"recorded": True}
    sent_text.refresh_from_db()
    assert sent_text.status == "failed" and "switched off" in sent_text.last_error
    # A later receipt never undoes a final one; an unknown id is accepted and ignored.
    assert receipt(client, json.dumps({"id": "notify-9", "status": "delivered"})).json() == {
        "recorded": False}
    assert receipt(client, json.dumps({"id": "nope", "status": "delivered"})).status_code == 200


def test_a_bad_notify_receipt_is_refused_with_the_reason(client, settings, sent_text):
    settings.NOTIFY_CALLBACK_TOKEN = "s3cret"
    duplicate = '{"id": "notify-9", "status": "delivered", "status": "permanent-failure"}'
    answer = receipt(client, duplicate)
    assert answer.status_code == 400 and "status" in answer.json()["error"]
    assert receipt(client, "[1, 2]").status_code == 400
    assert receipt(client, "{not json").status_code == 400
    sent_text.refresh_from_db()
    assert sent_text.status == "sent"


def test_polling_asks_the_provider_when_no_receipt_came(world, locmem, sent_text, monkeypatch):
    Message.objects.filter(pk=sent_text.pk).update(
        sent_at=timezone.now() - datetime.timedelta(hours=1))
    monkeypatch.setattr(sms.LocmemBackend, "status", lambda self, pid: ("delivered", ""),
                        raising=False)
    assert outbox.poll_receipts() == 1
    sent_text.refresh_from_db()
    assert sent_text.status == "delivered" and sent_text.delivered_at is not None


# --- after review: never twice, never lost, never at night ------------------------------------


def test_a_message_given_back_while_its_batch_was_slow_is_not_sent_by_that_worker(world, locmem):
    [message] = texts(world.org, 1)
    Message.objects.update(send_after=timezone.now() - datetime.timedelta(hours=1))
    [mine] = outbox.claim(now=timezone.now() - outbox.STUCK_AFTER - datetime.timedelta(minutes=1))
    assert outbox.recover_stuck() == {"sent": 0, "queued": 1, "failed": 0}  # another worker
    assert outbox.send_due(paces={}) == {"sent": 1, "failed": 0}  # ... sends it
    outbox._send_claimed(mine)  # the first worker reaches it in its old list: nothing sent
    assert [b for _to, b in locmem.outbox] == ["Hello 0"]


def test_a_slow_batch_gives_the_rest_back(world, locmem, monkeypatch):
    texts(world.org, outbox.CHECK_EVERY + 5)
    late = outbox.RELEASE_AFTER.total_seconds() + 1
    clock = iter([0.0, 0.0])  # the batch's start, its first few; then it has taken too long
    monkeypatch.setattr(outbox.time, "monotonic", lambda: next(clock, late))
    assert outbox.send_due(paces={}) == {"sent": outbox.CHECK_EVERY, "failed": 0}
    assert Message.objects.filter(status="queued").count() == 5
    assert set(Message.objects.filter(status="queued").values_list("attempts", flat=True)) == {0}


def test_a_message_withdrawn_after_the_claim_is_not_sent(world, locmem, monkeypatch):
    first, second = texts(world.org, 2)
    taken = outbox.claim

    def claim_then_withdraw(*args, **kwargs):
        batch = taken(*args, **kwargs)
        outbox.withdraw(Message.objects.filter(pk=second.pk), "not needed")
        return batch

    monkeypatch.setattr(outbox, "claim", claim_then_withdraw)
    assert outbox.send_due(paces={}) == {"sent": 1, "failed": 0}
    assert [b for _to, b in locmem.outbox] == ["Hello 0"]


def test_a_retry_after_a_lost_answer_asks_the_provider_first(world, locmem):
    [message] = texts(world.org, 1)
    # The provider took it, but its answer was lost (a timeout): recorded as failed.
    locmem().send(message.recipient, "Hello 0", reference=str(message.pk))
    Message.objects.filter(pk=message.pk).update(status="failed", attempts=1)
    assert outbox.send_due(paces={}) == {"sent": 1, "failed": 0}
    message.refresh_from_db()
    assert message.provider_reference == "locmem-1"
    assert len(locmem.outbox) == 1  # not sent a second time


def test_a_failure_the_provider_reported_stays_failed_and_is_never_resent(world, locmem,
                                                                          sent_text):
    Message.objects.filter(pk=sent_text.pk).update(
        expires_at=timezone.now() + datetime.timedelta(hours=1))
    assert outbox.record_receipt("notify-9", "failed", "The phone was switched off") == 1
    later = timezone.now() + datetime.timedelta(hours=2)
    assert outbox.expire(now=later) == 0
    assert outbox.send_due(now=later, paces={}) == {"sent": 0, "failed": 0}
    sent_text.refresh_from_db()
    assert (sent_text.status, sent_text.last_error) == ("failed", "The phone was switched off")


def test_a_message_claimed_outside_its_window_waits_for_the_opening(world, locmem):
    import zoneinfo

    london = zoneinfo.ZoneInfo("Europe/London")
    [message] = texts(world.org, 1)
    Message.objects.filter(pk=message.pk).update(
        window_opens=datetime.time(9), window_closes=datetime.time(20),
        send_after=datetime.datetime(2026, 3, 1, 9, tzinfo=london),
        expires_at=datetime.datetime(2026, 3, 5, tzinfo=london))
    night = datetime.datetime(2026, 3, 2, 23, 30, tzinfo=london)  # a backlog, after a restart
    assert outbox.send_due(now=night, paces={}) == {"sent": 0, "failed": 0}
    message.refresh_from_db()
    assert message.status == "queued" and message.attempts == 0
    assert message.send_after == datetime.datetime(2026, 3, 3, 9, tzinfo=london)
    assert locmem.outbox == []


def test_a_receipt_with_an_impossible_date_is_still_recorded(client, settings, sent_text):
    settings.NOTIFY_CALLBACK_TOKEN = "s3cret"
    answer = receipt(client, json.dumps({"id": "notify-9", "status": "delivered",
                                         "completed_at": "2026-02-31T10:00:00Z"}))
    assert answer.status_code == 200 and answer.json() == {"recorded": True}


def test_nothing_goes_to_a_patient_not_to_be_contacted_whenever_it_was_written(world, locmem):
    """A message written just before "do not contact" was recorded (a planning run, an
    answer sent as it happened, a race the withdrawal could not see) is withdrawn by the
    worker and by a send at once, never sent; a letter to hand over in person stays."""
    Patient.objects.filter(pk=world.p1.pk).update(do_not_contact=True)
    [theirs] = texts(world.org, 1, patient=world.p1)
    [other] = texts(world.org, 1, patient=world.p2)
    handed = Message.objects.create(organisation=world.org, patient=world.p1, channel="letter",
                                    recipient="", kind="portal-invitation", body="code")
    assert outbox.send_due(paces={}) == {"sent": 1, "failed": 0}
    assert [b for _to, b in locmem.outbox] == [other.body]
    theirs.refresh_from_db()
    assert (theirs.status, theirs.last_error) == ("withdrawn", outbox.NOT_TO_BE_CONTACTED)
    [at_once] = texts(world.org, 1, patient=world.p1)
    assert outbox.deliver(at_once.pk).status == "withdrawn"
    assert len(locmem.outbox) == 1
    handed.refresh_from_db()
    assert handed.status == "queued"
