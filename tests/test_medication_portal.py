"""My medication (the patient's portal page) and the keyworker's "ask for a dose on the patient's
behalf": the range and what can change today, in plain words; a dose outside the limits refused
with the reason on the dose field, nothing stored; one inside applied at once or waiting for the
prescriber, as the plan says; withdrawing, pausing a reduction, bad input, the portal home."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.audit.models import AuditEvent
from tandem.medication import dispensing, doses
from tandem.medication.models import (
    ChangeSource,
    DispensingDay,
    DispensingSource,
    DoseChange,
    DoseRequest,
    ReductionStatus,
    RequestStatus,
    Taken,
)
from tests.test_checkups import complete
from tests.test_plain_words import NOT_FOR_PATIENTS
from tests.test_portal_home import section, visible

TODAY = datetime.date.today()
URL = "/portal/medication/"


def day(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def words(d: datetime.date) -> str:
    """A day as the page writes it: "6 March" (with the year if not this year's)."""
    text = f"{d.day} {d:%B}"
    return text if d.year == timezone.localdate().year else f"{text} {d.year}"


def prescriber(world):
    return Actor(user=world.users["prescriber"], role="prescriber")


def a_plan(world, patient=None, *, dose=30, started=-30, self_setting=True, at_once=False,
           low=20, high=90, **terms):
    """Methadone for the patient (p1), started `started` days from today at `dose` mg."""
    patient = patient or world.p1
    limits = dict(low=Decimal(low), high=Decimal(high), step_up_max=Decimal(10),
                  step_down_max=Decimal(10), min_days_between=3, max_rise_7_days=Decimal(20),
                  review_date=day(60), self_setting=self_setting,
                  requests_apply_at_once=at_once) | terms
    return doses.start_plan(prescriber(world), patient.episodes.first(), "methadone",
                            doses.Terms(**limits), Decimal(dose), day(started), "Starting")


def ask(world, dose, from_day=None, note="", role="patient", url=URL, follow=False):
    client = world.client(role)
    return client.post(url, {"dose": dose, "from_day": (from_day or day(0)).isoformat(),
                             "note": note}, follow=follow)


def errors(response, field):
    return response.context["form"].errors.get(field, [])


def test_the_page_says_the_dose_the_range_and_what_can_change_today(world):
    a_plan(world)
    response = world.client("patient").get(URL)
    assert response.status_code == 200
    text = visible(response.content.decode())
    assert "Methadone oral solution 1 mg/ml" in text
    assert "Today: 30 mg a day" in text
    assert "The range you agreed with your prescriber: between 20 mg and 90 mg a day." in text
    # From 30 mg: down at most 10 (20 mg, the lowest), up at most 10.
    assert "Today you can ask for a dose from 20 mg to 40 mg." in text
    assert "This page shows the plan you agreed with your prescriber. It is not a " \
           "prescription." in text
    assert 'name="dose"' in response.content.decode()
    assert response.context["form"]["from_day"].value() == day(0)


def test_a_dose_above_the_range_is_refused_naming_the_highest_and_stores_nothing(world):
    plan = a_plan(world)
    response = ask(world, "100")
    assert response.status_code == 200
    said = errors(response, "dose")
    assert "100 mg is more than the highest dose agreed with the prescriber (90 mg)." in said
    page = response.content.decode()
    assert 'value="100"' in page  # what was typed is kept
    assert "Please correct the following" in page
    assert not DoseRequest.objects.exists()
    assert list(plan.doses.values_list("dose", flat=True)) == [Decimal(30)]


def test_a_rise_larger_than_a_step_is_refused_in_plain_words(world):
    a_plan(world)
    said = errors(ask(world, "45"), "dose")
    assert "That is a rise of 15 mg. The most the dose can go up in one change is 10 mg." in said
    assert not DoseRequest.objects.exists()


def test_a_dose_inside_the_limits_applies_at_once_when_the_plan_says_so(world):
    plan = a_plan(world, at_once=True)
    response = ask(world, "35", note="Mornings are hard", follow=True)
    assert response.redirect_chain == [(URL, 302)]
    made = DoseRequest.objects.get()
    assert (made.status, made.dose, made.on_behalf) == (RequestStatus.APPLIED, 35, False)
    change = plan.doses.get(day=day(0))
    assert (change.dose, change.source, change.request) == (35, ChangeSource.REQUEST, made)
    text = visible(response.content.decode())
    assert "Your dose is now 35 mg from today. Your pharmacy will be told." in text
    assert "Today: 35 mg a day" in text
    # Just changed: no change today, and the page says from when.
    assert (f"Your dose last changed on {words(day(0))}. The next change can be from "
            f"{words(day(3))}.") in text


def test_a_dose_inside_the_limits_waits_for_the_prescriber_otherwise(world):
    plan = a_plan(world)
    response = ask(world, "25", from_day=day(2), follow=True)
    assert response.redirect_chain == [(URL, 302)]
    made = DoseRequest.objects.get()
    assert made.status == RequestStatus.PENDING and made.from_day == day(2)
    assert plan.doses.count() == 1  # nothing changes until the prescriber agrees
    page = response.content.decode()
    text = visible(page)
    assert f"You asked for 25 mg from {words(day(2))}. Your prescriber will look at this." in text
    waiting = section(page, "waiting-h")
    assert "Withdraw" in waiting and f"/portal/medication/requests/{made.pk}/withdraw/" in waiting
    assert 'name="dose"' not in page  # one request at a time
    assert "once your prescriber has answered" in text


def test_too_soon_after_the_last_change_names_the_earliest_day(world):
    a_plan(world, started=-1)  # changed yesterday; 3 days at a dose before the next change
    page = world.client("patient").get(URL)
    text = visible(page.content.decode())
    assert (f"Your dose last changed on {words(day(-1))}. The next change can be from "
            f"{words(day(2))}.") in text
    assert page.context["form"]["from_day"].value() == day(2)  # the earliest, ready to send
    said = errors(ask(world, "35", from_day=day(0)), "dose")
    assert any(f"The next change can be from {day(2).day} {day(2):%B %Y}." in s for s in said)
    assert not DoseRequest.objects.exists()
    assert ask(world, "35", from_day=day(2)).status_code == 302
    assert DoseRequest.objects.get().from_day == day(2)


def test_without_self_setting_there_is_no_form_and_a_post_is_refused(world):
    a_plan(world, self_setting=False)
    page = world.client("patient").get(URL).content.decode()
    assert 'name="dose"' not in page
    text = visible(page)
    assert "Your prescriber sets your dose." in text and "talk to your keyworker" in text
    response = ask(world, "35")
    assert response.status_code == 200
    assert "This plan does not let the dose be set here" in " ".join(
        response.context["form"].non_field_errors())
    assert not DoseRequest.objects.exists()


def test_without_a_plan_the_page_says_so_and_a_post_stores_nothing(world):
    text = visible(world.client("patient").get(URL).content.decode())
    assert "You have no current medication plan with us." in text
    response = ask(world, "35")
    assert response.status_code == 200 and not DoseRequest.objects.exists()


def missed(world, plan, *days_ago):
    """The pharmacy reports these days missed (through the service, as staff enter them)."""
    dispensing.record(Actor(user=world.users["practitioner"]), plan,
                      [(day(-n), Taken.MISSED) for n in days_ago], DispensingSource.STAFF)


def test_after_three_missed_days_the_prescriber_must_see_the_patient_first(world):
    plan = a_plan(world)
    missed(world, plan, 1, 2)
    assert 'name="dose"' in world.client("patient").get(URL).content.decode()
    missed(world, plan, 3)
    assert DispensingDay.objects.filter(plan=plan, status=Taken.MISSED).count() == 3
    page = world.client("patient").get(URL).content.decode()
    assert 'name="dose"' not in page
    text = visible(page)
    assert "your prescriber needs to see you before your dose changes" in text
    response = ask(world, "35")
    assert "the prescriber needs to see you" in " ".join(
        response.context["form"].non_field_errors())
    assert not DoseRequest.objects.exists()


def test_withdrawing_my_waiting_request(world):
    a_plan(world)
    ask(world, "35")
    made = DoseRequest.objects.get()
    client = world.client("patient")
    response = client.post(f"/portal/medication/requests/{made.pk}/withdraw/")
    assert response.status_code == 302 and response["Location"] == URL
    made.refresh_from_db()
    assert made.status == RequestStatus.WITHDRAWN
    text = visible(client.get(URL).content.decode())
    assert "You withdrew your request for 35 mg." in text
    assert "Withdrawn: nothing changed." in text  # among the earlier requests
    # Withdrawn already: said, not a 500, nothing changes.
    again = client.post(f"/portal/medication/requests/{made.pk}/withdraw/", follow=True)
    assert "This request has already been answered." in visible(again.content.decode())


def test_another_patients_request_or_reduction_is_not_found(world):
    theirs = a_plan(world, world.p2)
    asked = doses.request_dose(Actor(user=world.users["team_lead"]), theirs, Decimal(35),
                               day(0), on_behalf=True)
    client = world.client("patient")
    assert client.post(f"/portal/medication/requests/{asked.pk}/withdraw/").status_code == 404
    assert client.post("/portal/medication/requests/999999/withdraw/").status_code == 404
    asked.refresh_from_db()
    assert asked.status == RequestStatus.PENDING
    doses.withdraw(Actor(user=world.users["team_lead"]), asked)
    reduction = doses.plan_reduction(prescriber(world), theirs, day(0), Decimal(5), 14,
                                     Decimal(20), "patient")
    assert client.post(f"/portal/medication/reductions/{reduction.pk}/pause/").status_code == 404
    reduction.refresh_from_db()
    assert reduction.status == ReductionStatus.ACTIVE


@pytest.mark.parametrize(("dose", "from_day", "field", "message"), [
    ("forty", None, "dose", "Type the dose as a number of mg"),
    ("1e9", None, "dose", "Type the dose as a number of mg"),
    ("-5", None, "dose", "Type the dose as a number of mg"),
    ("", None, "dose", "Type the dose you would like"),
    ("NaN", None, "dose", "Type the dose as a number of mg"),
    ("12.345", None, "dose", "at most 2 figures after the point"),
    ("1000000000", None, "dose", "far more than any daily dose"),
    ("99999", None, "dose", "99999 mg is above the most methadone is given at (150 mg)."),
    ("35", "2026-02-30", "from_day", "That is not a date we can read"),
    ("35", "tomorrow", "from_day", "That is not a date we can read"),
    ("35", "", "from_day", "Choose the day the new dose should start."),
    ("35", "1900-01-01", "from_day", "Choose a day from today to 4 weeks ahead."),
    ("35", "2999-01-01", "from_day", "Choose a day from today to 4 weeks ahead."),
])
def test_bad_input_is_a_message_on_its_field_never_a_500(world, dose, from_day, field, message):
    a_plan(world)
    client = world.client("patient")
    response = client.post(URL, {"dose": dose, "from_day": day(0).isoformat()
                                 if from_day is None else from_day, "note": ""})
    assert response.status_code == 200
    said = " ".join(errors(response, field))
    assert message in said, said
    assert not DoseRequest.objects.exists()


def test_a_dose_typed_with_mg_or_a_comma_is_read(world):
    a_plan(world, at_once=True)
    assert ask(world, "35 mg").status_code == 302
    assert DoseRequest.objects.get().dose == Decimal(35)


def test_a_long_note_is_refused_keeping_what_was_typed(world):
    a_plan(world)
    note = "x" * 501
    response = ask(world, "35", note=note)
    assert "Please keep this to 500 characters or fewer: it has 501 now." in " ".join(
        errors(response, "note"))
    assert note in response.content.decode() and not DoseRequest.objects.exists()


def test_the_keyworker_asks_on_the_patients_behalf_with_the_same_rules(world):
    plan = a_plan(world)
    url = f"/patients/{world.p1.pk}/medication/request/"
    client = world.client("practitioner")
    page = client.get(url)
    assert page.status_code == 200
    text = visible(page.content.decode())
    assert "Today the patient can ask for a dose from 20 mg to 40 mg." in text
    assert "between 20 mg and 90 mg a day" in text
    refused = ask(world, "100", role="practitioner", url=url)
    assert "100 mg is more than the highest dose agreed with the prescriber (90 mg)." in errors(
        refused, "dose")
    assert not DoseRequest.objects.exists()
    response = ask(world, "35", note="Asked at today's appointment", role="practitioner",
                   url=url, follow=True)
    assert response.redirect_chain == [(f"/patients/{world.p1.pk}/medication/", 302)]
    made = DoseRequest.objects.get()
    assert made.on_behalf is True and made.asked_by == world.users["practitioner"]
    assert (made.status, made.plan) == (RequestStatus.PENDING, plan)
    assert "Asked for 35 mg from today. The prescriber will look at this." in visible(
        response.content.decode())
    # The patient sees who asked.
    mine = visible(world.client("patient").get(URL).content.decode())
    assert "Your keyworker asked with you for 35 mg from today." in mine


def test_the_on_behalf_request_applies_at_once_when_the_plan_says_so(world):
    a_plan(world, at_once=True)
    url = f"/patients/{world.p1.pk}/medication/request/"
    response = ask(world, "25", role="practitioner", url=url)
    assert response.status_code == 302
    made = DoseRequest.objects.get()
    assert made.status == RequestStatus.APPLIED and made.on_behalf
    assert DoseChange.objects.get(request=made).dose == 25


def a_reduction(world, plan):
    return doses.plan_reduction(prescriber(world), plan, day(0), Decimal(5), 14, Decimal(20),
                                "patient")


def test_a_reduction_in_plain_words_with_its_chart_and_tables(world):
    plan = a_plan(world)
    a_reduction(world, plan)
    top = {f"{s}_w{w}": 0 for s in ("alcohol", "opioids", "crack", "cocaine", "amphetamines",
                                    "cannabis", "other", "tobacco", "inject")
           for w in (1, 2, 3, 4)} | {"opioids_w1": 2, "opioids_w3": 1, "alcohol_w1": 7}
    complete(world.p1, "top", top, 10)
    page = world.client("patient").get(URL).content.decode()
    reduction = section(page, "reduction-h")
    text = visible(reduction)
    assert "Going down 5 mg every 14 days, aiming for 20 mg." in text
    assert f"Next step: 20 mg from {words(day(14))}." in text
    assert "<svg" in reduction and "med-reduction" in reduction
    # The tables: each step, and the days of use of illicit opioids (not alcohol) at the
    # check-up.
    assert "25 mg" in text and "to come" in text
    # Each step from the day it was made (the plan's start, before the chart's first day).
    for when, dose, state in ((-30, 30, "done"), (0, 25, "done"), (14, 20, "to come")):
        assert (f'<th scope="row">{day(when):%-d %b %Y}</th><td>{dose} mg</td><td>{state}</td>'
                in reduction), when
    assert ("Days you used street heroin or other opioids not prescribed to you in the 4 weeks "
            "before each check-up") in text
    checkup_day = f"{day(-10):%-d %b %Y}"
    assert f'<th scope="row">{checkup_day}</th><td>3</td>' in reduction  # 2 + 1 days, not 7
    assert "Pause my reduction" in text and "Pausing is your choice" in text
    assert "Want to go back up a little? That is fine: it is your choice, not a failure." \
        in visible(page)


def test_pausing_my_reduction_takes_off_the_steps_to_come(world):
    plan = a_plan(world)
    reduction = a_reduction(world, plan)
    assert plan.doses.filter(day__gt=day(0), cancelled_at__isnull=True).count() == 1
    client = world.client("patient")
    response = client.post(f"/portal/medication/reductions/{reduction.pk}/pause/")
    assert response.status_code == 302
    reduction.refresh_from_db()
    assert reduction.status == ReductionStatus.PAUSED
    assert not plan.doses.filter(day__gt=day(0), cancelled_at__isnull=True).exists()
    assert plan.doses.filter(day__gt=day(0), cancelled_at__isnull=False).count() == 1
    page = client.get(URL).content.decode()
    text = visible(page)
    assert "Your reduction is paused. You stay at 25 mg a day for now." in text
    assert "Your reduction is paused: you stay at 25 mg a day." in text
    assert "Pause my reduction" not in text
    # Pausing again is said kindly, not a 500.
    again = client.post(f"/portal/medication/reductions/{reduction.pk}/pause/", follow=True)
    assert "nothing to pause" in visible(again.content.decode())


def test_asking_for_more_during_a_reduction_is_going_back_up(world):
    plan = a_plan(world, at_once=True)
    reduction = a_reduction(world, plan)
    # Today's step took the dose to 25 mg; the next change can be in 3 days.
    assert ask(world, "30", from_day=day(3)).status_code == 302
    reduction.refresh_from_db()
    assert reduction.status == ReductionStatus.PAUSED
    assert plan.doses.get(day=day(3)).source == ChangeSource.REVERSAL
    text = visible(world.client("patient").get(URL).content.decode())
    assert "failure" not in text.replace("not a failure", "")


def test_answered_requests_are_shown_with_the_answer(world):
    plan = a_plan(world)
    ask(world, "35")
    doses.decline(prescriber(world), DoseRequest.objects.get(),
                  "Let's talk about it at your review on Friday.")
    ask(world, "25")
    doses.approve(prescriber(world), DoseRequest.objects.get(status=RequestStatus.PENDING))
    assert plan.doses.filter(dose=25).exists()
    page = world.client("patient").get(URL).content.decode()
    text = visible(section(page, "answered-h"))
    assert "Your prescriber did not agree to this change. “Let's talk about it at your review " \
           "on Friday.”" in text
    assert "Your prescriber agreed: 25 mg from today." in text


def test_the_home_shows_an_answer_from_the_last_14_days_under_waiting_for_me(world):
    a_plan(world)
    ask(world, "35")
    asked = DoseRequest.objects.get()
    doses.decline(prescriber(world), asked, "Let's talk first.")
    page = world.client("patient").get("/portal/").content.decode()
    waiting = visible(section(page, "waiting-h"))
    assert "You asked for 35 mg from today. Your prescriber did not agree: “Let's talk first.”" \
        in waiting and "My medication" in waiting
    DoseRequest.objects.filter(pk=asked.pk).update(
        answered_at=timezone.now() - datetime.timedelta(days=15))
    page = world.client("patient").get("/portal/").content.decode()
    assert 'aria-labelledby="waiting-h"' not in page or "35 mg" not in section(page, "waiting-h")


def menu(client, path="/portal/"):
    return [label for _n, label in client.get(path).context["nav"]]


def test_my_medication_is_in_the_menu_only_with_a_plan_asked_once_a_minute(world, monkeypatch):
    from tandem.portal import home

    client = world.client("patient")
    assert "My medication" not in menu(client)
    a_plan(world)
    # Kept in the session for a minute: no query for it on each page.
    assert "My medication" not in menu(client, "/portal/checkups/")
    assert menu(world.client("patient")) == ["My recovery", "Check-ups", "My plan",
                                             "My medication"]
    later = home._clock() + home.MEDICATION_CHECK_SECONDS
    monkeypatch.setattr(home, "_clock", lambda: later)
    assert menu(client)[-1] == "My medication"


def test_the_menu_and_home_take_no_query_for_medication_between_checks(world):
    client = world.client("patient")
    client.get("/portal/")
    with CaptureQueriesContext(connection) as ctx:
        client.get("/portal/")
    assert not [q for q in ctx.captured_queries if "medication_" in q["sql"]]
    a_plan(world)
    client = world.client("patient")
    client.get("/portal/")
    with CaptureQueriesContext(connection) as ctx:
        client.get("/portal/")
    asked = [q["sql"] for q in ctx.captured_queries if "medication_" in q["sql"]]
    assert len(asked) == 1 and "medication_doserequest" in asked[0]  # the answers only


def test_every_word_on_the_page_is_for_a_patient(world):
    plan = a_plan(world)
    a_reduction(world, plan)
    ask(world, "30", from_day=day(3))
    ask(world, "999")  # a refusal on the page too
    for response in (world.client("patient").get(URL), ask(world, "999")):
        text = visible(response.content.decode())
        found = NOT_FOR_PATIENTS.search(text)
        assert found is None, found.group(0)
        for jargon in ("titration", "titrat", "MedicationRequest", "self-setting",
                       "self_setting", "RCI", "FHIR", "TOP", "pending", "on_behalf"):
            assert jargon not in text, jargon


def test_viewing_is_recorded_as_the_medication_part(world):
    a_plan(world)
    world.client("patient").get(URL)
    event = AuditEvent.objects.filter(actor=world.users["patient"], action="read").latest("seq")
    assert (event.patient, event.object_type) == (world.p1, "medication")
    ask(world, "35")
    made = AuditEvent.objects.filter(actor=world.users["patient"], action="create").latest("seq")
    assert made.object_type == "doserequest"


def count_queries(world):
    client = world.client("patient")
    client.get(URL)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_page_takes_the_same_number_of_queries_however_long_the_history(world):
    plan = a_plan(world, at_once=True)
    a_reduction(world, plan)
    small = count_queries(world)
    for n in range(6):  # up and down, every 3 days: each applied at once
        made = doses.request_dose(Actor(user=world.users["patient"]), plan,
                                  Decimal(30 if n % 2 == 0 else 25), day(3 + 3 * n))
        assert made.status == RequestStatus.APPLIED
    top = {f"{s}_w{w}": 1 for s in ("alcohol", "opioids", "crack", "cocaine", "amphetamines",
                                    "cannabis", "other", "tobacco", "inject") for w in (1, 2, 3, 4)}
    for n in range(8):
        complete(world.p1, "top", top, 2 + n)
    large = count_queries(world)
    assert small == large, (small, large)


def test_a_weekly_injection_is_said_every_7_days_not_a_day(world):
    doses.start_plan(prescriber(world), world.p1.episodes.first(),
                     "buprenorphine-injection-weekly",
                     doses.Terms(low=Decimal(8), high=Decimal(32), step_up_max=Decimal(8),
                                 step_down_max=Decimal(8), min_days_between=7,
                                 max_rise_7_days=Decimal(8), review_date=day(60),
                                 self_setting=False),
                     Decimal(16), day(-30), "Starting")
    text = visible(world.client("patient").get(URL).content.decode())
    assert "Today: 16 mg every 7 days" in text
    assert "between 8 mg and 32 mg every 7 days" in text
    assert "a day" not in text
    # The staff's timeline and medication list say the same, from the same words.
    from tandem.caseload.medication import _dose as list_dose
    from tandem.monitoring.timeline import _dose as timeline_dose
    assert list_dose("buprenorphine-injection-weekly", 16) == "16 mg every 7 days"
    assert timeline_dose("buprenorphine-injection-monthly", 128) == "128 mg every 28 days"
    assert timeline_dose("methadone", 60) == list_dose("methadone", 60) == "60 mg a day"
