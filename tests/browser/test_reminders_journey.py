"""Reminders in Chromium: the patient chooses texts then letters and a quiet window on their
phone; a check-up comes due; the reminder is written discreetly to the file backend; after two
unanswered texts the next invitation is a letter in the PDF batch and the keyworker has a low
flag; the patient stops their messages from the link in the text, without signing in. The
staff pages (Messages, Letters to post, the service's wording with its preview, booking an
appointment) and the public pages (stop, "I can't come") have zero axe violations. "Do not
contact", ticked in the patient's details, withdraws what waits and shows on every page that
sends."""

import datetime
import re
import zoneinfo

import pytest
from django.utils import timezone

from tandem.assessment.models import CheckupSchedule
from tandem.caseload.entries import refresh
from tandem.core.reminders import words_that_tell
from tandem.monitoring.models import Flag
from tandem.outbox import services as outbox
from tandem.outbox.models import Message, ServiceWording
from tandem.patients.models import Patient
from tandem.reminders import planner
from tandem.reminders.models import Appointment, Preferences
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
LONDON = zoneinfo.ZoneInfo("Europe/London")


def at_noon(day):
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=LONDON)


def test_choose_remind_fall_back_to_a_letter_and_stop(live_world, visit, settings, tmp_path):
    settings.SMS_BACKEND = "tandem.outbox.sms.FileBackend"
    settings.OUTBOX_DIR = tmp_path
    p1 = live_world.p1
    Patient.objects.filter(pk=p1.pk).update(preferred_name="Jade", phone="07700 900123",
                                            agrees_to_sms=True)
    ServiceWording.objects.create(organisation=live_world.org, everyday_name="Riverside",
                                  other_names="Riverside Drug and Alcohol Service")

    # The patient chooses, on their phone.
    phone = visit(viewport=(390, 844))
    phone.sign_in("patient", PASSWORD)
    phone.go("/portal/reminders/")
    assert phone.page.get_by_text("We don't send you reminders at the moment").is_visible()
    phone.axe()
    phone.page.get_by_role("link", name="Change how we remind you").click()
    phone.page.get_by_label("The first way to reach me").select_option("sms")
    phone.page.get_by_label("If I don't answer").select_option("letter")
    phone.page.get_by_label("Check-ups: before, on the day, and a reminder if missed").check()
    phone.page.get_by_label("Messages from").fill("10:00")
    phone.page.get_by_label("Messages until").fill("19:00")
    phone.page.get_by_label("My postal address, for letters").fill("1 High Street\nTown\nAB1 2CD")
    phone.axe()
    phone.page.get_by_role("button", name="Save").click()
    assert phone.page.get_by_text("By text message, then letter, between 10:00 and 19:00"
                                  ).is_visible()
    phone.axe()
    phone.screenshot("reminders-my-choices-phone")

    # A check-up comes due in 3 days: the morning's planning writes a discreet text.
    today = timezone.localdate()
    due = today + datetime.timedelta(days=3)
    CheckupSchedule.objects.update_or_create(
        patient=p1, defaults={"organisation_id": p1.organisation_id, "next_due": due})
    refresh([p1.pk])
    site = phone.base
    morning = datetime.datetime.combine(today, datetime.time(7), tzinfo=LONDON)
    assert planner.plan_day(today, now=morning, site=site)["planned"] == 1
    first = Message.objects.get()
    assert first.send_after == datetime.datetime.combine(today, datetime.time(10), tzinfo=LONDON)
    assert outbox.send_due(now=at_noon(today), paces={})["sent"] == 1
    [text_file] = (tmp_path / "sms").glob("*.txt")
    text = text_file.read_text()
    assert "Hi Jade, your check-up with Riverside is on" in text
    assert words_that_tell(text, ["Riverside Drug and Alcohol Service"]) == []
    stop_link = re.search(r"Stop these texts: (\S+)", text).group(1)

    # On the day, a second text; a week later, unanswered, a letter and a flag.
    planner.plan_day(due, now=at_noon(due), site=site)
    assert outbox.send_due(now=at_noon(due), paces={})["sent"] == 1
    late = due + datetime.timedelta(days=7)
    assert planner.plan_day(late, now=at_noon(late), site=site)["flagged"] == 1
    letter = Message.objects.get(kind="checkup-late")
    assert letter.channel == "letter" and letter.status == "queued"

    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    staff.go("/patients/letters/")
    assert staff.page.get_by_role("link", name="Download the 1 letter (PDF)").is_visible()
    staff.axe()
    pdf = staff.page.request.get(staff.base + "/patients/letters/print.pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    staff.screenshot("reminders-letters-to-post")
    staff.go(f"/patients/{p1.pk}/flags/")
    assert staff.page.get_by_text("Couldn't reach Jade: 2 texts unanswered").first.is_visible()
    staff.axe()
    assert Flag.objects.get(patient=p1, rule="unreachable").severity == "low"
    staff.go(f"/patients/{p1.pk}/messages/")
    assert staff.page.get_by_text("Text message, then Letter").is_visible()
    staff.axe()
    staff.screenshot("reminders-patient-messages")

    # The patient stops their messages from the link, in a browser signed in to nothing.
    fresh = visit(viewport=(390, 844))
    fresh.go(stop_link.replace(site, ""))
    assert fresh.page.get_by_role("heading", name="Stop these messages?").is_visible()
    fresh.axe()
    fresh.page.get_by_role("button", name="Stop my messages").click()
    assert fresh.page.get_by_role("heading", name="Messages stopped").is_visible()
    fresh.axe()
    assert Preferences.objects.get(patient=p1).opted_out_at is not None
    assert planner.plan_day(due, now=at_noon(due) + datetime.timedelta(hours=1),
                            site=site)["planned"] == 0


def test_the_wording_and_appointment_pages_are_accessible(live_world, visit):
    admin = visit()
    admin.sign_in("service_admin", PASSWORD)
    admin.go("/manage/messages/")
    admin.axe()
    admin.page.get_by_label("Everyday name").fill("Riverside Drugs")
    admin.page.get_by_role("button", name="Save the names").click()
    assert admin.page.get_by_text("says what the service is about").first.is_visible()
    admin.axe()
    admin.go("/manage/messages/checkup-soon/")
    admin.page.get_by_label("Text message").fill("Hi {name}! Check-up on {date}: {link}")
    admin.page.get_by_role("button", name="Preview").click()
    assert admin.page.get_by_text("Preview of what you typed (not saved)").is_visible()
    admin.axe()
    admin.screenshot("reminders-wording-preview")

    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    p1 = live_world.p1
    staff.go(f"/patients/{p1.pk}/appointments/new/")
    staff.axe()
    when = timezone.localtime() + datetime.timedelta(days=2)
    staff.page.get_by_label("Date and time").fill(when.strftime("%Y-%m-%dT%H:%M"))
    staff.page.get_by_label("Place").fill("the Riverside centre, room 2")
    staff.page.get_by_role("button", name="Book it").click()
    assert staff.page.get_by_text("Appointment booked").is_visible()
    staff.axe()
    token = Appointment.objects.get(patient=p1).token
    phone = visit(viewport=(390, 844))
    phone.go(f"/appointment/{token}/")
    phone.axe()
    phone.page.get_by_label("Anything you want to tell us (optional)").fill("Hospital")
    phone.page.get_by_role("button", name="I can't come").click()
    assert phone.page.get_by_text("You told us you can't come").is_visible()
    phone.axe()
    staff.page.reload()
    assert staff.page.get_by_text("They can't come").is_visible()
    staff.axe()


def test_do_not_contact_recorded_in_the_details_stops_every_sender(live_world, visit):
    p1 = live_world.p1
    Patient.objects.filter(pk=p1.pk).update(phone="07700 900123", agrees_to_sms=True)
    Preferences.objects.create(organisation=live_world.org, patient=p1, channels="sms")
    waiting = Message.objects.create(organisation=live_world.org, patient=p1, channel="sms",
                                     recipient="07700 900123", kind="checkup-soon", body="Hi",
                                     dedupe_key="checkup-soon:x")
    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    staff.go(f"/patients/{p1.pk}/edit/")
    staff.page.get_by_label("Do not contact").check()
    staff.axe()
    staff.page.get_by_role("button", name="Save").click()
    assert staff.page.get_by_text("Details saved").is_visible()
    assert staff.page.get_by_text("nothing is sent to them").is_visible()
    staff.axe()
    staff.go(f"/patients/{p1.pk}/messages/")
    assert staff.page.get_by_text("is recorded in their details").first.is_visible()
    assert staff.page.get_by_text("Not sent: \"do not contact\" was recorded.").is_visible()
    staff.axe()
    staff.go(f"/patients/{p1.pk}/portal/")
    assert staff.page.get_by_text('Text message — "Do not contact" is recorded').first \
        .is_visible()
    assert staff.page.get_by_text("A letter can be printed to hand over in person").is_visible()
    staff.axe()
    staff.screenshot("do-not-contact-portal-access")
    waiting.refresh_from_db()
    assert waiting.status == "withdrawn"
