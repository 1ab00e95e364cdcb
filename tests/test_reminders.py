"""Reminders: planned once each, discreet, within the patient's window, by the way they chose;
after two unanswered invitations by one way, the next goes another way and the keyworker gets
a low flag; "do not contact" and the stop link stop everything; appointments' "I can't come"."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine
from django.utils import timezone

from tandem.assessment.models import CheckupSchedule, Response
from tandem.caseload.entries import refresh
from tandem.core.reminders import words_that_tell
from tandem.monitoring.models import Flag
from tandem.outbox.models import Message
from tandem.planning.models import Goal
from tandem.reminders import planner
from tandem.reminders.models import Appointment, Preferences, ServiceWording, Template

LONDON = zoneinfo.ZoneInfo("Europe/London")
DAY = datetime.date(2026, 3, 2)  # a Monday
MORNING = datetime.datetime(2026, 3, 2, 7, 0, tzinfo=LONDON)


@pytest.fixture
def jade(world):
    """p1, who agreed to texts and letters, with a check-up due in 3 days."""
    p = world.p1
    p.preferred_name, p.phone, p.agrees_to_sms = "Jade", "07700 900123", True
    p.ok_to_leave_message = True
    p.save()
    ServiceWording.objects.create(organisation=world.org, everyday_name="Riverside",
                                  other_names="Riverside Drug and Alcohol Service")
    Preferences.objects.create(organisation=world.org, patient=p, channels="sms,letter",
                               postal_address="1 High Street\nTown\nAB1 2CD")
    due(p, DAY + datetime.timedelta(days=3))
    return p


def due(patient, day):
    """The patient's next check-up is due on `day` (None: none due)."""
    CheckupSchedule.objects.update_or_create(
        patient=patient, defaults={"organisation_id": patient.organisation_id, "next_due": day})
    refresh([patient.pk])


def plan(today=DAY, now=MORNING):
    return planner.plan_day(today, now=now, site="https://tandem.example")


def test_a_checkup_reminder_is_planned_once_discreetly_and_waits_for_the_window(jade):
    assert plan() == {"planned": 1, "already": 0, "skipped": 0, "flagged": 0}
    assert plan() == {"planned": 0, "already": 1, "skipped": 0, "flagged": 0}  # sent once
    message = Message.objects.get(patient=jade)
    assert (message.kind, message.channel, message.recipient) == ("checkup-soon", "sms",
                                                                 "07700 900123")
    assert message.body.startswith("Hi Jade, your check-up with Riverside is on Thursday 5 "
                                   "March. You can do it here: https://tandem.example/portal/")
    assert words_that_tell(message.body, ["Riverside Drug and Alcohol Service"]) == []
    assert "Stop these texts: https://tandem.example/stop/" in message.body
    # Planned at 07:00; the window opens at 09:00 (the default), London time.
    assert message.send_after == datetime.datetime(2026, 3, 2, 9, 0, tzinfo=LONDON)
    assert message.expires_at == datetime.datetime(2026, 3, 6, 0, 0, tzinfo=LONDON)


def test_quiet_hours_past_midnight_hold_a_message_till_the_window_opens(jade):
    Preferences.objects.filter(patient=jade).update(window_opens=datetime.time(18),
                                                    window_closes=datetime.time(1))
    plan(now=datetime.datetime(2026, 3, 2, 7, 0, tzinfo=LONDON))
    assert Message.objects.get().send_after == datetime.datetime(2026, 3, 2, 18, 0,
                                                                 tzinfo=LONDON)
    Message.objects.all().delete()
    plan(now=datetime.datetime(2026, 3, 2, 23, 30, tzinfo=LONDON))
    assert Message.objects.get().send_after == datetime.datetime(2026, 3, 2, 23, 30,
                                                                 tzinfo=LONDON)


def test_nothing_is_planned_without_choices_or_against_them(jade, world):
    Preferences.objects.filter(patient=jade).update(do_not_contact=True)
    assert plan()["planned"] == 0
    Preferences.objects.filter(patient=jade).update(do_not_contact=False,
                                                    opted_out_at=timezone.now())
    assert plan()["planned"] == 0
    Preferences.objects.filter(patient=jade).update(opted_out_at=None, groups="plan")
    assert plan() == {"planned": 0, "already": 0, "skipped": 1, "flagged": 0}
    Preferences.objects.filter(patient=jade).update(groups="checkups")
    due(world.p2, DAY + datetime.timedelta(days=3))  # no choices: nothing
    assert plan()["planned"] == 1 and not Message.objects.filter(patient=world.p2).exists()


def test_a_text_needs_the_patients_agreement_and_a_phone(jade):
    jade.agrees_to_sms = False
    jade.save()
    plan()
    assert Message.objects.get().channel == "letter"  # their next way


def send_all():
    Message.objects.filter(status="queued").update(status="sent", sent_at=timezone.now())


def test_two_unanswered_invitations_turn_the_next_into_a_letter_and_flag_the_keyworker(jade):
    due_on = DAY + datetime.timedelta(days=3)
    plan()  # 3 days before: a text
    send_all()
    plan(due_on, MORNING + datetime.timedelta(days=3))  # on the day: a text
    send_all()
    late = MORNING + datetime.timedelta(days=10)
    counts = plan(due_on + datetime.timedelta(days=7), late)
    assert counts["flagged"] == 1
    kinds = list(Message.objects.order_by("created_at").values_list("kind", "channel"))
    assert kinds == [("checkup-soon", "sms"), ("checkup-today", "sms"),
                     ("checkup-late", "letter")]
    flag = Flag.objects.get(patient=jade, rule="unreachable")
    assert flag.severity == "low"
    assert flag.evidence.startswith("Couldn't reach Jade: 2 texts unanswered since 2 March")


def test_a_checkup_done_answers_the_invitations(jade, world):
    plan()
    send_all()
    Response.objects.create(organisation=world.org, patient=jade, instrument_code="phq9",
                            instrument_version="1", status="completed", mode="self",
                            completed_at=MORNING + datetime.timedelta(days=1))
    due_on = DAY + datetime.timedelta(days=3)
    plan(due_on, MORNING + datetime.timedelta(days=3))
    send_all()
    assert planner._unanswered([jade.pk]) == {jade.pk: [("sms", Message.objects.get(
        kind="checkup-today").created_at)]}


def test_the_goal_is_quoted_only_when_they_said_yes_and_it_tells_nothing(jade, world):
    Preferences.objects.filter(patient=jade).update(channels="letter")
    goal = Goal.objects.create(
        organisation=world.org, patient=jade, card="family", statement="See my kids every "
        "weekend", proposed_by="patient", lifecycle_status="active", gas_minus2="a",
        gas_minus1="b", gas_0="c", gas_plus1="d", gas_plus2="e",
        created_by=world.users["practitioner"], updated_by=world.users["practitioner"])
    plan()
    assert "See my kids" not in Message.objects.get().body
    Message.objects.all().delete()
    Preferences.objects.filter(patient=jade).update(quote_goal=True)
    plan()
    assert 'You said: "See my kids every weekend".' in Message.objects.get().body
    Message.objects.all().delete()
    Goal.objects.filter(pk=goal.pk).update(statement="Stop drinking on weekdays")
    plan()
    assert "drinking" not in Message.objects.get().body


def test_a_service_template_that_tells_gives_way_to_the_neutral_default(jade, world):
    Template.objects.create(organisation=world.org, kind="checkup-soon",
                            subject="Your drug service check-up", text="Hi {name}, your "
                            "treatment check-up is on {date}: {link}", body="Hi {name}")
    plan()
    message = Message.objects.get()
    assert "treatment" not in message.body and message.body.startswith("Hi Jade, your check-up")
    Template.objects.filter(kind="checkup-soon").update(
        subject="See you soon", text="Hello {name}! Check-up on {date}: {link}")
    Message.objects.all().delete()
    plan()
    assert Message.objects.get().body.startswith("Hello Jade! Check-up on Thursday 5 March")


def test_the_services_clinical_name_never_appears_unless_chosen(world, jade):
    ServiceWording.objects.filter(organisation=world.org).delete()
    world.org.name = "Riverside Alcohol Service"
    world.org.save()
    plan()
    assert "Alcohol" not in Message.objects.get().body
    assert "your check-up with your service" in Message.objects.get().body


def test_an_appointment_is_reminded_the_day_before_with_a_cant_come_link(jade, world, client):
    due(jade, None)
    Preferences.objects.filter(patient=jade).update(channels="sms")
    appointment = Appointment.objects.create(
        organisation=world.org, patient=jade, how="in_person", place="the Riverside centre",
        starts_at=datetime.datetime(2026, 3, 3, 10, 30, tzinfo=LONDON),
        with_user=world.users["practitioner"], created_by=world.users["practitioner"])
    plan()
    message = Message.objects.get()
    assert message.kind == "appointment-tomorrow"
    assert message.body.startswith("Hi Jade, see you tomorrow, Tuesday 3 March at 10:30, the "
                                   "Riverside centre. Can't come? https://tandem.example/"
                                   f"appointment/{appointment.token}/")
    with time_machine.travel(MORNING):
        page = client.get(f"/appointment/{appointment.token}/")
        assert page.status_code == 200
        assert ">I can't come</button>" in page.content.decode()
        client.post(f"/appointment/{appointment.token}/", {"note": "Hospital appointment"})
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancelled_by_patient, appointment.cancel_note) == (
        "cancelled", True, "Hospital appointment")
    assert client.get("/appointment/not-a-token/").status_code == 404


def test_the_stop_link_asks_then_stops_every_message_without_signing_in(jade, client):
    token = Preferences.objects.get(patient=jade).stop_token
    page = client.get(f"/stop/{token}/")
    assert page.status_code == 200 and b"Stop my messages" in page.content
    assert Preferences.objects.get(patient=jade).opted_out_at is None  # a GET stops nothing
    client.post(f"/stop/{token}/")
    assert Preferences.objects.get(patient=jade).opted_out_at is not None
    assert b"Messages stopped" in client.get(f"/stop/{token}/").content
    assert plan()["planned"] == 0
    assert client.get("/stop/nope/").status_code == 404


# --- the staff pages ----------------------------------------------------------------------


def test_the_keyworker_records_choices_and_sees_what_was_sent(jade, world):
    client = world.client("practitioner")
    Preferences.objects.filter(patient=jade).delete()
    plan()
    page = client.get(f"/patients/{jade.pk}/messages/")
    assert page.status_code == 200 and b"No choices recorded" in page.content
    form = client.get(f"/patients/{jade.pk}/messages/choices/")
    assert form.context["form"].initial["first"] == "sms"  # from what they agreed to
    answer = client.post(f"/patients/{jade.pk}/messages/choices/", {
        "first": "sms", "second": "letter", "third": "", "kinds": ["checkups", "appointments"],
        "window_opens": "10:00", "window_closes": "19:30", "postal_address": "1 High St",
        "version": 0})
    assert answer.status_code == 302
    prefs = Preferences.objects.get(patient=jade)
    assert (prefs.channels, prefs.groups, prefs.window_opens) == (
        "sms,letter", "checkups,appointments", datetime.time(10))
    plan()
    page = client.get(f"/patients/{jade.pk}/messages/").content.decode()
    assert "Text message, then Letter" in page and "Your check-up with Riverside" in page


def test_choices_name_the_field_that_cannot_work(jade, world):
    client = world.client("practitioner")
    prefs = Preferences.objects.get(patient=jade)
    answer = client.post(f"/patients/{jade.pk}/messages/choices/", {
        "first": "email", "second": "email", "window_opens": "09:00",
        "window_closes": "20:00", "version": prefs.version})
    errors = answer.context["form"].errors
    assert "Choose each way once." in errors["second"]
    assert "Email needs their email address" in errors["first"][0]
    answer = client.post(f"/patients/{jade.pk}/messages/choices/", {
        "first": "letter", "window_opens": "25:00", "window_closes": "20:00",
        "version": prefs.version})
    errors = answer.context["form"].errors
    assert "window_opens" in errors and "postal_address" in errors
    assert Preferences.objects.get(patient=jade).channels == "sms,letter"  # unchanged


def test_two_people_saving_choices_do_not_overwrite_each_other(jade, world):
    client = world.client("practitioner")
    prefs = Preferences.objects.get(patient=jade)
    data = {"first": "sms", "window_opens": "09:00", "window_closes": "20:00",
            "kinds": ["checkups"], "postal_address": "x", "version": prefs.version}
    assert client.post(f"/patients/{jade.pk}/messages/choices/", data).status_code == 302
    again = client.post(f"/patients/{jade.pk}/messages/choices/",
                        {**data, "first": "letter"})
    assert again.status_code == 200 and again.context["stale"]
    assert Preferences.objects.get(patient=jade).channels == "sms"


def test_booking_an_appointment_checks_its_date_and_place(jade, world):
    client = world.client("practitioner")
    past = client.post(f"/patients/{jade.pk}/appointments/new/", {
        "starts_at": "2020-01-01T10:00", "how": "in_person", "place": "",
        "with_user": world.users["practitioner"].pk})
    errors = past.context["form"].errors
    assert "must be in the future" in errors["starts_at"][0] and "place" in errors
    when = timezone.localtime() + datetime.timedelta(days=3)
    done = client.post(f"/patients/{jade.pk}/appointments/new/", {
        "starts_at": when.strftime("%Y-%m-%dT%H:%M"), "how": "phone", "place": "ignored",
        "with_user": world.users["practitioner"].pk})
    assert done.status_code == 302
    appointment = Appointment.objects.get(patient=jade)
    assert (appointment.how, appointment.place, appointment.status) == ("phone", "", "booked")
    assert "by phone" in client.get(f"/patients/{jade.pk}/messages/").content.decode()
    client.post(f"/patients/{jade.pk}/appointments/{appointment.pk}/cancel/")
    appointment.refresh_from_db()
    assert appointment.status == "cancelled" and not appointment.cancelled_by_patient
