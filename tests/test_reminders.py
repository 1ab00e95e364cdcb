"""Reminders: planned once each, discreet, within the patient's window, by the way they chose;
after two unanswered invitations by one way, the next goes another way and the keyworker gets
a low flag; "do not contact" and the stop link stop everything; appointments' "I can't come"."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.utils import timezone

from tandem.assessment.models import CheckupSchedule, Response
from tandem.caseload.entries import refresh
from tandem.core.reminders import words_that_tell
from tandem.monitoring.models import Flag
from tandem.outbox.models import Message, ServiceWording
from tandem.patients.models import Patient
from tandem.planning.models import Goal
from tandem.reminders import planner
from tandem.reminders.models import Appointment, Preferences, Template

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
    Patient.objects.filter(pk=jade.pk).update(do_not_contact=True)
    assert plan()["planned"] == 0
    Patient.objects.filter(pk=jade.pk).update(do_not_contact=False)
    Preferences.objects.filter(patient=jade).update(opted_out_at=timezone.now())
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
    assert f'To send them nothing at all, record “Do not contact” in <a href="/patients/' \
        f'{jade.pk}/edit/">their details' in form.content.decode()
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


# --- letters --------------------------------------------------------------------------------


def test_letters_wait_to_be_posted_as_one_pdf_and_are_marked_posted(jade, world):
    Preferences.objects.filter(patient=jade).update(channels="letter")
    plan()
    letter = Message.objects.get()
    assert (letter.channel, letter.recipient) == ("letter", "1 High Street\nTown\nAB1 2CD")
    client = world.client("practitioner")
    page = client.get("/patients/letters/")
    assert page.status_code == 200 and b"Download the 1 letter (PDF)" in page.content
    assert world.client("practitioner_b").get("/patients/letters/").context["letters"] == []
    from tandem.reminders.letters import letters_html

    html = letters_html([letter])
    assert "AB1 2CD" in html and "Your check-up with Riverside" in html
    pdf = client.get("/patients/letters/print.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    client.post("/patients/letters/posted/", {"letter": [str(letter.pk), "not-an-id"]})
    letter.refresh_from_db()
    assert letter.status == "printed" and letter.sent_at is not None
    assert b"No letters are waiting" in client.get("/patients/letters/").content


def test_letters_go_through_notify_when_the_service_chose_it(jade, world, settings):
    from tandem.outbox import notify
    from tandem.outbox import services as outbox

    class FakeLetters:
        sent = []

        def send_letter_notification(self, template_id, personalisation, reference=None):
            FakeLetters.sent.append((template_id, personalisation, reference))
            return {"id": "notify-letter-1"}

    settings.NOTIFY_LETTER_TEMPLATE_ID = "letter-tmpl"
    settings.LETTER_BACKEND = "tests.test_reminders.FakeNotifyLetters"
    FakeNotifyLetters.client = FakeLetters()
    Preferences.objects.filter(patient=jade).update(channels="letter")
    plan()
    letter = Message.objects.get()
    assert outbox.send_due(now=letter.send_after, paces={}) == {"sent": 1, "failed": 0}
    [(template, personalisation, reference)] = FakeLetters.sent
    assert template == "letter-tmpl" and reference == str(letter.pk)
    assert [personalisation[f"address_line_{n}"] for n in (1, 2, 3, 4)] == [
        "Jade Patient T-001", "1 High Street", "Town", "AB1 2CD"]
    assert personalisation["body"].startswith("Hi Jade,")
    assert notify  # the provider named in the settings


class FakeNotifyLetters:
    client = None

    def __new__(cls):
        from tandem.outbox.notify import NotifyLetterBackend

        return NotifyLetterBackend(client=cls.client)


# --- the service's wording ------------------------------------------------------------------


def test_the_service_admin_words_a_message_with_a_preview(world):
    client = world.client("service_admin")
    page = client.get("/manage/messages/checkup-soon/")
    assert page.status_code == 200
    assert "Tandem&#x27;s wording" in page.content.decode() or "Tandem's wording" in \
        page.content.decode()
    previewed = client.post("/manage/messages/checkup-soon/", {
        "subject": "See you soon", "text": "Hi {name}! Check-up {date}: {link}[[ {keyworker}]]",
        "body": "Hi {name}", "version": 0, "preview": "1"})
    assert not Template.objects.exists()  # a preview saves nothing
    bodies = [p["body"] for p in previewed.context["previews"] if p["channel"] == "sms"]
    assert bodies[0].startswith("Hi Jade! Check-up") and "Sam" in bodies[0]
    assert "Sam" not in bodies[1]  # without a keyworker, the optional part goes
    client.post("/manage/messages/checkup-soon/", {
        "subject": "See you soon", "text": "Hi {name}! Check-up {date}: {link}",
        "body": "Hi {name}", "version": 0})
    assert Template.objects.get(kind="checkup-soon").text == "Hi {name}! Check-up {date}: {link}"


def test_wording_that_tells_or_cannot_fill_is_refused_naming_the_field(world):
    client = world.client("service_admin")
    answer = client.post("/manage/messages/checkup-soon/", {
        "subject": "Your treatment check-up", "text": "Hi {name} at {time}",
        "body": "Hi {nmae}", "version": 0})
    errors = answer.context["form"].errors
    assert "treatment" in errors["subject"][0]
    assert "{time} has no value" in errors["text"][0]
    assert "{nmae} is not a placeholder" in errors["body"][0]
    answer = client.post("/manage/messages/plan-review-soon/", {
        "subject": "Review", "text": "Open {link}", "body": "Hi", "version": 0})
    assert "has no link" in answer.context["form"].errors["text"][0]
    assert not Template.objects.exists()
    assert client.get("/manage/messages/no-such-kind/").status_code == 404


def test_the_everyday_name_must_not_tell(world):
    client = world.client("service_admin")
    answer = client.post("/manage/messages/", {"everyday_name": "Riverside Drug Service",
                                               "other_names": "", "version": 0})
    assert "says what the service is about" in answer.context["form"].errors["everyday_name"][0]
    client.post("/manage/messages/", {"everyday_name": "Riverside",
                                      "other_names": "Riverside Recovery Service", "version": 0})
    wording = ServiceWording.objects.get(organisation=world.org)
    assert wording.clinical_names == ["Riverside Recovery Service"]
    page = client.get("/manage/messages/").content.decode()
    assert "Messages now call the service <strong>Riverside</strong>" in page


# --- the patient's own page -----------------------------------------------------------------


def test_the_patient_sees_what_was_sent_and_chooses_in_plain_words(jade, world):
    plan()
    client = world.client("patient")
    page = client.get("/portal/reminders/").content.decode()
    assert "By text message, then letter, between 09:00 and 20:00" in page
    assert "Your check-up with Riverside" in page and "Waiting to be sent" in page
    for word in ("sms", "queued", "dedupe", "opted"):  # no code words for patients
        assert word not in page.lower()
    prefs = Preferences.objects.get(patient=jade)
    client.post("/portal/reminders/choices/", {
        "first": "letter", "kinds": ["checkups"], "window_opens": "12:00",
        "window_closes": "18:00", "postal_address": "2 Low Road\nTown", "quote_goal": "on",
        "version": prefs.version})
    prefs.refresh_from_db()
    assert (prefs.channels, prefs.groups, prefs.quote_goal, prefs.window_opens) == (
        "letter", "checkups", True, datetime.time(12))


def test_choosing_again_after_stopping_starts_messages_again(jade, world, client):
    token = Preferences.objects.get(patient=jade).stop_token
    client.post(f"/stop/{token}/")
    patient = world.client("patient")
    assert "You stopped our messages" in patient.get("/portal/reminders/").content.decode()
    prefs = Preferences.objects.get(patient=jade)
    patient.post("/portal/reminders/choices/", {
        "first": "sms", "kinds": ["checkups"], "window_opens": "09:00",
        "window_closes": "20:00", "version": prefs.version})
    assert Preferences.objects.get(patient=jade).opted_out_at is None
    assert plan()["planned"] == 1


# --- messages about something that just happened --------------------------------------------


def test_an_answer_to_a_proposed_change_is_sent_once_in_their_window(jade, world):
    from tandem.audit.actor import Actor
    from tandem.planning import care_plan
    from tests.test_permissions import plan_for

    Preferences.objects.filter(patient=jade).update(groups="plan")
    due(jade, None)
    plan = plan_for(jade, world)
    proposal = plan.proposals.first()
    care_plan.respond(Actor(user=world.users["practitioner"]), proposal, "accepted",
                      "Yes, let's add it")
    message = Message.objects.get(kind="change-answered")
    assert message.body.startswith("Hi Jade, there is an answer to the change you asked for: ")
    assert message.dedupe_key == f"change-answered:{proposal.pk}"
    # Not before their window opens (09:00 to 20:00), and never before it was written.
    assert message.send_after >= message.created_at
    assert Preferences.objects.get(patient=jade).window.holds(
        timezone.localtime(message.send_after).time())


def test_a_plan_waiting_for_their_signature_is_sent_once_a_version(jade, world):
    from tests.test_permissions import plan_for

    due(jade, None)
    Preferences.objects.filter(patient=jade).update(groups="plan")
    plan_for(jade, world)
    refresh([jade.pk])
    assert plan()["planned"] == 1
    assert plan(DAY + datetime.timedelta(days=1))["already"] == 1
    assert Message.objects.get().kind == "plan-to-sign"


def test_a_message_that_did_not_arrive_shows_on_the_patients_page(jade, world):
    Message.objects.create(organisation=world.org, patient=jade, channel="sms",
                           recipient="07700 900123", kind="checkup-soon", status="failed",
                           subject="Your check-up", body="Hi",
                           last_error="The phone number does not exist or cannot get text "
                                      "messages.")
    page = world.client("practitioner").get(f"/patients/{jade.pk}/").content.decode()
    assert "Not delivered:" in page and "The phone number does not exist" in page


def test_the_demo_has_choices_a_neutral_name_and_plans_todays_reminders(db, capsys):
    from django.core.management import call_command

    call_command("demo", patients=40, password="demo-pass-123")
    out = capsys.readouterr().out
    assert re.search(r"Reminders today: \d+ planned, \d+ sent now", out)
    wording = ServiceWording.objects.get()
    assert wording.everyday_name == "Riverside"
    assert words_that_tell("Riverside") == [] and words_that_tell(wording.other_names) != []
    prefs = list(Preferences.objects.all())
    assert len(prefs) >= 20
    assert {"sms", "email", "letter"} <= {c for p in prefs for c in p.channel_list}
    assert all(p.postal_address for p in prefs if "letter" in p.channel_list)
    call_command("demo", patients=40)  # again: nobody gets a second set of choices
    assert Preferences.objects.count() == len(prefs)


def test_every_link_in_a_planned_message_opens_a_page_for_the_patient(jade, world):
    from tests.test_permissions import plan_for

    plan_for(jade, world)
    refresh([jade.pk])
    Preferences.objects.filter(patient=jade).update(channels="sms")
    Appointment.objects.create(
        organisation=world.org, patient=jade, how="phone",
        starts_at=datetime.datetime(2026, 3, 3, 10, 30, tzinfo=LONDON),
        with_user=world.users["practitioner"], created_by=world.users["practitioner"])
    plan()
    kinds = set(Message.objects.values_list("kind", flat=True))
    assert {"checkup-soon", "plan-to-sign", "appointment-tomorrow"} <= kinds
    client = world.client("patient")
    for body in Message.objects.values_list("body", flat=True):
        for link in re.findall(r"https://tandem\.example(\S+)", body):
            with time_machine.travel(MORNING):
                assert client.get(link).status_code == 200, link


def test_the_demo_writes_the_letters_waiting_as_one_pdf_on_disk(jade, settings, tmp_path):
    from tandem.web.management.commands.demo import Command

    settings.OUTBOX_DIR = tmp_path
    Preferences.objects.filter(patient=jade).update(channels="letter")
    plan()
    said = Command().letters_to_disk()
    [pdf] = (tmp_path / "letters").glob("letters-*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and str(pdf) in said
    assert Message.objects.get().status == "queued"  # still to be posted by the service


def test_staff_restart_messages_only_when_the_patient_asks(jade, world, client):
    staff = world.client("practitioner")
    prefs = Preferences.objects.get(patient=jade)
    data = {"first": "sms", "kinds": ["checkups"], "window_opens": "09:00",
            "window_closes": "20:00", "postal_address": "x"}
    assert "restart" not in staff.get(f"/patients/{jade.pk}/messages/choices/").context[
        "form"].fields
    client.post(f"/stop/{prefs.stop_token}/")
    prefs.refresh_from_db()
    staff.post(f"/patients/{jade.pk}/messages/choices/", {**data, "version": prefs.version})
    prefs.refresh_from_db()
    assert prefs.opted_out_at is not None  # saving their other choices does not restart them
    staff.post(f"/patients/{jade.pk}/messages/choices/",
               {**data, "restart": "on", "version": prefs.version})
    assert Preferences.objects.get(patient=jade).opted_out_at is None


def test_a_message_still_waiting_after_its_day_is_not_sent_and_says_so(jade):
    from tandem.outbox import services as outbox

    Preferences.objects.filter(patient=jade).update(channels="sms,letter")
    plan()
    text = Message.objects.get()
    after = text.expires_at + datetime.timedelta(minutes=1)
    assert outbox.send_due(now=after, paces={}) == {"sent": 0, "failed": 0}
    assert outbox.expire(now=after) == 1
    text.refresh_from_db()
    assert text.status == "withdrawn" and text.last_error == outbox.TOO_LATE


# --- after review: what changes withdraws what waits ------------------------------------------


def test_stopping_withdraws_what_waits(jade, world, client):
    plan()
    token = Preferences.objects.get(patient=jade).stop_token
    client.post(f"/stop/{token}/")
    message = Message.objects.get()
    assert (message.status, message.last_error) == ("withdrawn", "Not sent: they stopped "
                                                                 "messages.")
    prefs = Preferences.objects.get(patient=jade)
    assert prefs.version == 2  # a form open elsewhere notices


def test_do_not_contact_in_their_details_withdraws_everything_waiting(jade, world):
    """Recorded by staff on the patient's details (where every sender reads it): a reminder
    and a message of another kind still waiting are withdrawn, with the reason on the page;
    the patient's portal says so in plain words; nothing more is planned."""
    plan()
    other = Message.objects.create(organisation=world.org, patient=jade, channel="sms",
                                   recipient=jade.phone, kind="portal-invitation", body="Hi")
    client = world.client("practitioner")
    form = client.get(f"/patients/{jade.pk}/edit/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and k != "id"}
    data |= {"team": jade.team_id, "date_of_birth": jade.date_of_birth.isoformat(),
             "do_not_contact": "on", "ok_to_leave_message": "on", "agrees_to_sms": "on"}
    response = client.post(f"/patients/{jade.pk}/edit/", data)
    assert response.status_code == 302, response.context["form"].errors
    jade.refresh_from_db()
    assert jade.do_not_contact
    assert {(m.status, m.last_error) for m in Message.objects.filter(patient=jade)} == {
        ("withdrawn", 'Not sent: "do not contact" was recorded.')}
    assert other.pk in {m.pk for m in Message.objects.filter(status="withdrawn")}
    page = client.get(f"/patients/{jade.pk}/messages/").content.decode()
    assert "Do not contact</strong> is recorded" in page
    assert "Not sent: &quot;do not contact&quot; was recorded." in page  # the reason shows
    assert "Do not contact</strong>: nothing is sent" in client.get(
        f"/patients/{jade.pk}/").content.decode()
    portal = world.client("patient").get("/portal/reminders/").content.decode()
    assert "We have been asked not to contact you" in portal
    assert "Change how we remind you" not in portal
    Message.objects.all().delete()
    assert plan(DAY + datetime.timedelta(days=3))["planned"] == 0


def test_do_not_contact_is_kept_by_an_api_change_and_withdraws_too(jade, world):
    plan()
    client = world.client("practitioner")
    jade.refresh_from_db()
    response = client.patch(f"/api/v1/patients/{jade.pk}", {
        "version": jade.version, "do_not_contact": True}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["do_not_contact"] is True
    assert Message.objects.get(patient=jade).status == "withdrawn"
    # A client sending null for a field it leaves alone does not clear it.
    refused = client.patch(f"/api/v1/patients/{jade.pk}", {
        "version": jade.version + 1, "do_not_contact": None}, content_type="application/json")
    assert refused.status_code == 422 and "do_not_contact" in refused.content.decode()
    jade.refresh_from_db()
    assert jade.do_not_contact


def test_changing_the_way_withdraws_what_would_go_the_old_way(jade, world):
    plan()
    staff = world.client("practitioner")
    prefs = Preferences.objects.get(patient=jade)
    staff.post(f"/patients/{jade.pk}/messages/choices/", {
        "first": "letter", "kinds": ["checkups"], "window_opens": "09:00",
        "window_closes": "20:00", "postal_address": "1 High St", "version": prefs.version})
    assert Message.objects.get().status == "withdrawn"
    Message.objects.all().delete()
    plan()
    assert Message.objects.get().channel == "letter"


def test_a_cancelled_appointment_sends_no_reminder(jade, world):
    due(jade, None)
    appointment = Appointment.objects.create(
        organisation=world.org, patient=jade, how="phone",
        starts_at=datetime.datetime(2026, 3, 3, 10, 30, tzinfo=LONDON),
        with_user=world.users["practitioner"], created_by=world.users["practitioner"])
    plan()
    reminder = Message.objects.get()
    assert reminder.expires_at == datetime.datetime(2026, 3, 3, 0, 0, tzinfo=LONDON)  # not on
    world.client("practitioner").post(                                              # the day
        f"/patients/{jade.pk}/appointments/{appointment.pk}/cancel/")
    reminder.refresh_from_db()
    assert reminder.status == "withdrawn"


def test_a_past_appointment_cannot_be_cancelled_from_the_link(jade, world, client):
    appointment = Appointment.objects.create(
        organisation=world.org, patient=jade, how="phone",
        starts_at=timezone.now() - datetime.timedelta(hours=1),
        with_user=world.users["practitioner"], created_by=world.users["practitioner"])
    client.post(f"/appointment/{appointment.token}/", {"note": "late"})
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_a_checkup_done_withdraws_its_invitations_still_waiting(jade, world):
    from tandem.assessment import events

    plan()
    events.checkups_completed.send(Response, organisation_id=world.org.pk,
                                   patient_ids=[jade.pk])
    assert Message.objects.get().status == "withdrawn"


def test_after_treatment_both_invitations_go(jade):
    from tandem.patients.models import Episode

    Episode.objects.filter(patient=jade).update(
        status="post-exit-monitoring", exit_reason="completed_free",
        exit_date=timezone.localdate() - datetime.timedelta(days=1))
    refresh([jade.pk])
    due_on = DAY + datetime.timedelta(days=3)
    plan()
    plan(due_on, MORNING + datetime.timedelta(days=3))
    assert list(Message.objects.order_by("created_at").values_list("kind", flat=True)) == [
        "after-treatment", "after-treatment"]


def test_an_amended_checkup_answers_the_invitations(jade, world):
    plan()
    send_all()
    Response.objects.create(organisation=world.org, patient=jade, instrument_code="phq9",
                            instrument_version="1", status="amended", mode="self",
                            completed_at=MORNING + datetime.timedelta(hours=5))
    assert planner._unanswered([jade.pk]) == {}


def test_the_flag_says_so_when_there_is_no_other_way(jade):
    Preferences.objects.filter(patient=jade).update(channels="sms")
    due_on = DAY + datetime.timedelta(days=3)
    plan()
    send_all()
    plan(due_on, MORNING + datetime.timedelta(days=3))
    send_all()
    late = MORNING + datetime.timedelta(days=10)
    plan(due_on + datetime.timedelta(days=7), late)
    flag = Flag.objects.get(patient=jade, rule="unreachable")
    assert "They agreed to no other way" in flag.evidence


def test_with_a_letter_provider_only_the_letters_it_could_not_post_are_listed(jade, world,
                                                                            settings):
    Preferences.objects.filter(patient=jade).update(channels="letter")
    plan()
    settings.LETTER_BACKEND = "tests.test_reminders.FakeNotifyLetters"
    client = world.client("practitioner")
    assert client.get("/patients/letters/").context["letters"] == []  # the provider's to post
    letter = Message.objects.get()
    client.post("/patients/letters/posted/", {"letter": [str(letter.pk)]})
    assert Message.objects.get().status == "queued"  # not marked posted by mistake
    Message.objects.update(status="failed", provider_reference="notify-1",
                           last_error="Returned: address not known")
    assert [m.pk for m in client.get("/patients/letters/").context["letters"]] == [letter.pk]


def test_the_plan_to_sign_is_the_latest_version_only(jade, world):
    from tandem.planning.models import PlanVersion
    from tests.test_permissions import plan_for

    due(jade, None)
    Preferences.objects.filter(patient=jade).update(groups="plan")
    plan_obj = plan_for(jade, world)
    old = plan_obj.versions.get()
    PlanVersion.objects.filter(pk=old.pk).update(practitioner_signed_at=timezone.now(),
                                                 practitioner_signed_by=world.users[
                                                     "practitioner"])
    newer = PlanVersion.objects.create(plan=plan_obj, number=2, snapshot=old.snapshot,
                                       created_by=world.users["practitioner"],
                                       patient_signed_at=timezone.now(),
                                       patient_signed_by=world.users["patient"])
    refresh([jade.pk])
    assert planner._versions_to_sign([jade.pk]) == {}  # the latest is signed: not the old one
    PlanVersion.objects.filter(pk=newer.pk).update(patient_signed_at=None,
                                                   patient_signed_by=None)
    assert planner._versions_to_sign([jade.pk]) == {jade.pk: newer.pk}


def test_an_address_that_tells_is_warned_about(settings):
    from tandem.reminders.checks import the_address_in_messages_is_discreet

    settings.SITE_URL = "https://riverside-drug-service.nhs.uk"
    [warning] = the_address_in_messages_is_discreet()
    assert warning.id == "reminders.W001" and "drug" in warning.msg
    settings.SITE_URL = "https://riverside.example.org"
    assert the_address_in_messages_is_discreet() == []


def test_a_days_planning_that_did_not_finish_is_queued_again(db):
    from django_tasks_db.models import DBTaskResult

    from tandem.reminders import tasks
    from tandem.reminders.models import PlanningRun

    morning = datetime.datetime(2026, 3, 2, 8, tzinfo=LONDON)
    assert tasks.plan_due(morning) == "2026-03-02"
    assert tasks.plan_due(morning + datetime.timedelta(minutes=5)) is None  # running
    assert tasks.plan_due(morning + datetime.timedelta(minutes=40)) == "2026-03-02"  # again
    assert DBTaskResult.objects.filter(task_path__endswith="plan_reminders").count() == 2
    PlanningRun.objects.update(finished_at=morning)
    assert tasks.plan_due(morning + datetime.timedelta(hours=3)) is None  # done


@pytest.mark.django_db(transaction=True)  # migrates the database back and forth
def test_do_not_contact_recorded_with_the_choices_moves_to_the_patients_details():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from tests.conftest import build_world

    world = build_world()
    before = [("reminders", "0001_initial")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("reminders", "Preferences")
        for patient, stop in ((world.p1, True), (world.p2, False)):
            old.objects.create(organisation_id=world.org.pk, patient_id=patient.pk,
                               channels="sms", do_not_contact=stop, stop_token=str(stop))
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())  # every app back to its latest
    assert set(Patient.objects.filter(do_not_contact=True)) == {world.p1}
    # A new version: a details form opened before (without the box) is refused as stale.
    assert Patient.objects.get(pk=world.p1.pk).version == world.p1.version + 1


@pytest.mark.django_db(transaction=True)  # migrates the database back and forth
def test_the_services_wording_moves_to_the_outbox_with_its_rows():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from tests.conftest import build_world

    world = build_world()
    before = [("reminders", "0002_do_not_contact_on_patient"),
              ("outbox", "0003_planned_messages")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("reminders",
                                                                   "ServiceWording")
        old.objects.create(organisation_id=world.org.pk, everyday_name="Riverside",
                           other_names="Riverside Drug and Alcohol Service")
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())  # every app back to its latest
    wording = ServiceWording.objects.get()
    assert (wording.organisation, wording.everyday_name, wording.clinical_names) == (
        world.org, "Riverside", ["Riverside Drug and Alcohol Service"])
