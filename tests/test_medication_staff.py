"""The care team's medication pages: the plan, its dose history as a step chart and a table,
requests answered by the prescriber, medication reviews, reductions, the dose-change sheet for
the pharmacy, the service's settings and the medication plan on the printable recovery plan.
Each page works for the right role and refuses others; bad input is refused naming its field."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.accounts.models import Role
from tandem.audit.actor import Actor
from tandem.medication import doses, reviews
from tandem.medication.models import (
    DEFAULT_RESTART_RULE,
    DispensingDay,
    DispensingSource,
    DoseChange,
    DoseRequest,
    MedicationPlan,
    MedicationReview,
    MedicationSettings,
    PlanVersion,
    Reduction,
    ReductionStatus,
    RequestStatus,
    Taken,
)
from tests.conftest import make_user

TODAY = timezone.localdate()
NOT_A_PRESCRIPTION = ("Tandem is not a prescribing system: this is the plan agreed with the "
                      "patient, not a prescription.")


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def terms(**changed) -> doses.Terms:
    values = {"low": Decimal(20), "high": Decimal(90), "step_up_max": Decimal(10),
              "step_down_max": Decimal(10), "min_days_between": 3,
              "max_rise_7_days": Decimal(20), "self_setting": True,
              "pharmacy": "Riverside Pharmacy", "supervised_days": 5, "take_home_days": 2,
              "review_date": days(60)}
    values.update(changed)
    return doses.Terms(**values)


def methadone(world, *, started=-40, dose=30, **changed) -> MedicationPlan:
    """A self-setting methadone plan for p1, started 40 days ago at 30 mg."""
    return doses.start_plan(Actor(user=world.users["prescriber"]), world.p1.episodes.first(),
                            "methadone", terms(**changed), Decimal(dose), days(started),
                            "Starting treatment")


def prescriber(world):
    return Actor(user=world.users["prescriber"])


def url(world, name="", *args):
    base = f"/patients/{world.p1.pk}/medication/"
    return base + name + "".join(f"{a}/" for a in args)


def plan_post(**changed) -> dict:
    data = {"medicine": "methadone", "dose": "25", "started_on": TODAY.isoformat(),
            "low": "20", "high": "90", "step_up_max": "10", "step_down_max": "10",
            "min_days_between": "3", "max_rise_7_days": "30", "pharmacy": "Riverside Pharmacy",
            "supervised_days": "7", "take_home_days": "0", "review_date": days(60).isoformat(),
            "self_setting": "on", "requests_apply_at_once": "0", "reason": "Starting treatment"}
    data.update(changed)
    return {k: v for k, v in data.items() if v is not None}


def errors_of(response) -> dict:
    form = response.context["form"]
    return {k: " ".join(v) for k, v in form.errors.items()}


# --- the medication page -------------------------------------------------------------------


def test_the_page_shows_the_plan_its_history_as_a_chart_and_a_table_and_says_it_is_no_prescription(
        world):
    plan = methadone(world)
    doses.change_plan(prescriber(world), plan, plan.version, terms(), "More comfortable",
                      dose=Decimal(40), from_day=TODAY)
    response = world.client("prescriber").get(url(world))
    assert response.status_code == 200
    html = response.content.decode()
    assert NOT_A_PRESCRIPTION in html
    assert "Methadone oral solution 1 mg/ml" in html
    assert "40 mg a day</strong> since" in html
    assert "20 to 90 mg a day" in html
    assert "5 supervised days and 2 take-home days a week" in html
    assert "Riverside Pharmacy" in html
    assert "waits for the prescriber's approval" in html
    assert re.search(r'<svg[^>]*role="img"', html) and 'class="dose-line"' in html
    table = html[html.index("Dose history table"):]
    assert "Start" in table and "Change" in table and "More comfortable" in table
    assert "was 30 mg" in table
    assert f'href="/patients/{world.p1.pk}/medication/changes/' in table
    assert "Change the plan" in html and "Hold a medication review" in html


def test_the_care_team_reads_the_page_without_the_prescribers_forms(world):
    plan = methadone(world)
    doses.request_dose(Actor(user=world.users["patient"]), plan, Decimal(35), TODAY)
    for role in ("practitioner", "team_lead"):
        html = world.client(role).get(url(world)).content.decode()
        assert "35 mg a day</strong> from" in html
        assert "Agree 35 mg" not in html and "Change the plan" not in html
        assert "The prescriber on the care team answers it." in html
    html = world.client("prescriber").get(url(world)).content.decode()
    assert "Agree 35 mg" in html
    assert html.index("Doses asked for, waiting") < html.index("The plan:")  # pending first
    for role in ("patient", "service_admin", "auditor", "other_org"):
        assert world.client(role).get(url(world)).status_code in (403, 404)


def test_no_plan_yet(world):
    html = world.client("prescriber").get(url(world)).content.decode()
    assert "has no medication plan" in html and "Start a medication plan" in html
    assert "Start a medication plan" not in world.client("practitioner").get(
        url(world)).content.decode()


def test_an_overdue_review_and_a_missing_ecg_are_shown(world):
    plan = methadone(world, high=Decimal(110))
    MedicationPlan.objects.filter(pk=plan.pk).update(review_date=days(-2))
    html = world.client("practitioner").get(url(world)).content.decode()
    assert "overdue" in html
    assert "No ECG recorded." in html
    plan.refresh_from_db()
    doses.change_plan(prescriber(world), plan, plan.version,
                      terms(high=Decimal(110), last_ecg_on=days(-10)), "ECG done")
    html = world.client("practitioner").get(url(world)).content.decode()
    assert "Last ECG on" in html and "No ECG recorded" not in html and "overdue" not in html


def test_missed_doses_show_the_services_restart_rule(world):
    plan = methadone(world)
    MedicationSettings.objects.create(organisation=world.org,
                                      restart_rule="Call the duty prescriber before any dose.")
    for n in (3, 2, 1):
        DispensingDay.objects.create(organisation=world.org, patient=world.p1, plan=plan,
                                     day=days(-n), status=Taken.MISSED,
                                     source=DispensingSource.STAFF)
    html = world.client("practitioner").get(url(world)).content.decode()
    assert "Missed doses: 3 days in a row" in html
    assert "Call the duty prescriber before any dose." in html
    assert "Only the prescriber changes the dose now." in html


def test_without_missed_doses_no_restart_rule_is_shown(world):
    methadone(world)
    html = world.client("practitioner").get(url(world)).content.decode()
    assert "restart rule" not in html and DEFAULT_RESTART_RULE not in html


def test_the_page_reads_a_bounded_number_of_queries_however_long_the_history(world):
    plan = methadone(world, started=-200)
    client = world.client("prescriber")
    client.get(url(world))
    with CaptureQueriesContext(connection) as small:
        assert client.get(url(world)).status_code == 200
    actor = prescriber(world)
    # A long past of dose changes (written directly: the service only writes from today on).
    for n in range(1, 30):
        DoseChange.objects.create(plan=plan, day=days(-200 + 6 * n), dose=Decimal(30 + n % 3),
                                  source="prescriber", plan_version=1,
                                  made_by=world.users["prescriber"], reason=f"Step {n}")
    for n in range(5):  # reviews, each a plan version
        plan.refresh_from_db()
        reviews.hold(actor, plan, plan.version, held_on=days(-n), adequacy="right",
                     patient_view=f"Review {n}", substance_goal="stable",
                     goal_chosen_by="patient", next_review=days(30 + n))
    patient = Actor(user=world.users["patient"])
    for _ in range(4):  # requests answered, and one waiting
        doses.decline(actor, doses.request_dose(patient, plan, Decimal(35), days(5)), "Not yet")
    doses.request_dose(patient, plan, Decimal(35), days(5))
    plan.refresh_from_db()
    doses.plan_reduction(actor, plan, days(10), Decimal(2), 7, Decimal(20), "patient")
    doses.pause(actor, plan.reductions.get())
    doses.resume(actor, plan.reductions.get())
    with CaptureQueriesContext(connection) as large:
        response = client.get(url(world))
    assert response.status_code == 200
    assert response.content.decode().count("Dose-change sheet<span") >= 30
    assert len(large) <= len(small) + 3, [q["sql"][:120] for q in large.captured_queries]
    assert len(large) <= 30


# --- starting a plan -----------------------------------------------------------------------


def test_starting_a_plan_first_chooses_the_medicine_then_shows_its_limits_and_sources(world):
    client = world.client("prescriber")
    choose = client.get(url(world, "new/"))
    assert choose.status_code == 200
    html = choose.content.decode()
    assert 'value="methadone"' in html and 'value="acamprosate"' in html
    page = client.get(url(world, "new/") + "?medicine=methadone")
    html = page.content.decode()
    assert "A first dose or a restart is at most 30 mg a day." in html
    assert "RCGP substitute prescribing guidance" in html  # its source, from the file
    assert "The highest dose is at most 150 mg a day." in html
    assert "The usual maintenance dose is 60 mg to 120 mg a day" in html
    assert "Tandem&#x27;s default" in html
    form = page.context["form"]
    assert form["min_days_between"].value() == 3
    assert form["step_up_max"].value() == Decimal(10)
    assert form["max_rise_7_days"].value() == Decimal(30)
    assert "self_setting" in form.fields and "last_ecg_on" in form.fields
    unknown = client.get(url(world, "new/") + "?medicine=nonsense")
    assert unknown.status_code == 400 and b"choose a medicine from the list" in unknown.content


def test_starting_a_methadone_plan_with_a_range_and_self_setting(world):
    response = world.client("prescriber").post(url(world, "new/"), plan_post(
        requests_apply_at_once="1"))
    assert response.status_code == 302, errors_of(response)
    plan = MedicationPlan.objects.get(patient=world.p1)
    assert (plan.low, plan.high, plan.self_setting, plan.requests_apply_at_once) == (
        Decimal(20), Decimal(90), True, True)
    assert list(plan.doses.values_list("dose", "kind")) == [(Decimal(25), "start")]
    assert plan.versions.get().reason == "Starting treatment"


@pytest.mark.parametrize(("changed", "field", "words"), [
    ({"dose": "40"}, "dose", "at most 30 mg a day"),
    ({"dose": "99999999"}, "dose", "too long"),
    ({"dose": "-5"}, "dose", "below 0"),
    ({"dose": "lots"}, "dose", "Enter a number"),
    ({"started_on": "2026-02-30"}, "started_on", "real date"),
    ({"started_on": "1850-01-01"}, "started_on", "before the patient was born"),
    ({"review_date": days(120).isoformat()}, "review_date", "3 months"),
    ({"review_date": days(-1).isoformat()}, "review_date", "past"),
    ({"low": "95"}, "low", "above the highest"),
    ({"high": "200"}, "high", "150 mg"),
    ({"high": "130"}, "above_usual_reason", "record the reason"),
    ({"min_days_between": "99999999"}, "min_days_between", "whole number from 1 to 365"),
    ({"supervised_days": "6", "take_home_days": "3"}, "take_home_days", "more than 7"),
    ({"last_ecg_on": days(3).isoformat()}, "last_ecg_on", "future"),
    ({"reason": "   "}, "reason", "Say why"),
])
def test_a_new_plan_refuses_bad_input_naming_the_field(world, changed, field, words):
    response = world.client("prescriber").post(url(world, "new/"), plan_post(**changed))
    assert response.status_code == 200
    found = errors_of(response)
    assert field in found, found
    assert words in found[field]
    assert not MedicationPlan.objects.filter(patient=world.p1).exists()
    # What was typed is kept.
    assert response.context["form"]["reason"].value() == plan_post(**changed)["reason"]


def test_an_alcohol_medicine_is_a_record_without_self_setting_or_step_limits(world):
    client = world.client("prescriber")
    page = client.get(url(world, "new/") + "?medicine=acamprosate")
    form = page.context["form"]
    for name in ("self_setting", "requests_apply_at_once", "step_up_max", "min_days_between"):
        assert name not in form.fields
    assert b"held as a record of the medicine" in page.content
    data = plan_post(medicine="acamprosate", dose="1332", low="1332", high="1998",
                     self_setting=None, supervised_days="0", take_home_days="7")
    for name in ("step_up_max", "step_down_max", "min_days_between", "max_rise_7_days"):
        data.pop(name)
    data["self_setting"] = "on"  # posted anyway: ignored, the medicine does not allow it
    response = client.post(url(world, "new/"), data)
    assert response.status_code == 302, errors_of(response)
    plan = MedicationPlan.objects.get(patient=world.p1)
    assert plan.medicine == "acamprosate" and not plan.self_setting
    assert plan.min_days_between == 1 and plan.step_up_max == Decimal(1998)


def test_a_second_plan_for_the_episode_is_not_started(world):
    methadone(world)
    html = world.client("prescriber").get(url(world, "new/")).content.decode()
    assert "already has a current medication plan" in html


# --- changing and stopping the plan --------------------------------------------------------


def edit_post(plan, **changed) -> dict:
    data = plan_post(version=str(plan.version), reason="Review of the range", dose="",
                     max_rise_7_days="20",
                     from_day="", requests_apply_at_once="0", supervised_days="5",
                     take_home_days="2")
    data.pop("medicine")
    data.pop("started_on")
    data.update(changed)
    return {k: v for k, v in data.items() if v is not None}


def test_changing_the_plan_keeps_a_version_with_who_and_why(world):
    plan = methadone(world)
    client = world.client("prescriber")
    page = client.get(url(world, "change/"))
    assert page.context["form"]["version"].value() == plan.version
    response = client.post(url(world, "change/"), edit_post(plan, high="100", dose="38"))
    assert response.status_code == 302, errors_of(response)
    plan.refresh_from_db()
    assert plan.high == Decimal(100) and plan.version == 2
    version = plan.versions.get(number=2)
    assert (version.reason, version.changed_by) == ("Review of the range",
                                                     world.users["prescriber"])
    assert doses.dose_on(plan, TODAY) == Decimal(38)
    assert plan.versions.get(number=1).terms["high"] == "90"  # nothing overwritten


def test_a_change_outside_the_range_or_a_step_limit_is_refused_on_the_dose(world):
    plan = methadone(world)
    response = world.client("prescriber").post(url(world, "change/"),
                                               edit_post(plan, dose="95"))
    assert "more than the highest dose" in errors_of(response)["dose"]
    response = world.client("prescriber").post(url(world, "change/"),
                                               edit_post(plan, dose="50"))
    assert "The most the dose can go up in one change is 10 mg" in errors_of(response)["dose"]
    plan.refresh_from_db()
    assert plan.version == 1 and doses.dose_on(plan, TODAY) == Decimal(30)


def test_a_restart_after_missed_doses_starts_titration_again(world):
    plan = methadone(world, dose=30)
    response = world.client("prescriber").post(url(world, "change/"), edit_post(
        plan, dose="25", restart="on", reason="Restart after 4 missed days"))
    assert response.status_code == 302, errors_of(response)
    plan.refresh_from_db()
    assert plan.titrating_since == TODAY
    assert plan.doses.get(day=TODAY).kind == "restart"
    plan2 = plan
    response = world.client("prescriber").post(url(world, "change/"), edit_post(
        plan2, dose="35", from_day=days(1).isoformat(), restart="on"))
    assert "A restart of methadone can be at most 30 mg a day." in errors_of(response)["dose"]


def test_a_stale_save_is_refused_and_what_was_typed_is_kept(world):
    plan = methadone(world)
    client = world.client("prescriber")
    opened_at = plan.version
    doses.change_plan(prescriber(world), plan, plan.version, terms(high=Decimal(80)),
                      "Someone else's change")
    response = client.post(url(world, "change/"), edit_post(
        plan, version=str(opened_at), high="85", reason="My typed reason"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Someone changed this plan while you were editing it" in html
    assert "My typed reason" in html
    form = response.context["form"]
    assert form["high"].value() == "85"
    assert str(form["version"].value()) == "2"  # saving again knowingly replaces theirs
    stale = response.context["stale_changes"]
    assert [(d.label, d.saved, d.yours) for d in stale] == [
        ("Highest dose (mg a day)", "80", "85")]
    plan.refresh_from_db()
    assert plan.high == Decimal(80)
    again = client.post(url(world, "change/"), edit_post(plan, high="85",
                                                         reason="My typed reason"))
    assert again.status_code == 302
    plan.refresh_from_db()
    assert plan.high == Decimal(85)


def test_stopping_the_plan_needs_a_reason_and_keeps_the_history(world):
    plan = methadone(world)
    client = world.client("prescriber")
    refused = client.post(url(world, "stop/"), {"stop-version": plan.version,
                                                "stop-reason": ""})
    assert refused.status_code == 400
    assert b"Say why the plan is stopping." in refused.content
    response = client.post(url(world, "stop/"), {"stop-version": plan.version,
                                                 "stop-reason": "Moved to another service"})
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.status == "stopped"
    html = client.get(response["Location"]).content.decode()
    assert "This plan has stopped." in html and "Start a medication plan" in html


# --- answering requests --------------------------------------------------------------------


def waiting(world, dose=35):
    plan = methadone(world)
    return plan, doses.request_dose(Actor(user=world.users["patient"]), plan, Decimal(dose),
                                    TODAY, note="Cravings in the evening")


def test_the_prescriber_agrees_a_request(world):
    plan, asked = waiting(world)
    response = world.client("prescriber").post(
        url(world, "requests/", asked.pk, "answer"), {f"r{asked.pk}-action": "approve"})
    assert response.status_code == 302
    asked.refresh_from_db()
    assert asked.status == RequestStatus.APPROVED
    assert doses.dose_on(plan, TODAY) == Decimal(35)
    html = world.client("prescriber").get(url(world)).content.decode()
    table = html[html.index("Dose history table"):]
    assert "Asked for by Patient Tester; agreed by Prescriber Tester" in table
    assert "Cravings in the evening" in table


def test_declining_needs_words_for_the_patient(world):
    plan, asked = waiting(world)
    client = world.client("prescriber")
    address = url(world, "requests/", asked.pk, "answer")
    refused = client.post(address, {f"r{asked.pk}-action": "decline",
                                    f"r{asked.pk}-answer": ""})
    assert refused.status_code == 400
    assert b"Say why, in words the patient will read." in refused.content
    asked.refresh_from_db()
    assert asked.status == RequestStatus.PENDING
    client.post(address, {f"r{asked.pk}-action": "decline",
                          f"r{asked.pk}-answer": "Let us talk at Thursday's appointment."})
    asked.refresh_from_db()
    assert (asked.status, asked.answer) == (RequestStatus.DECLINED,
                                            "Let us talk at Thursday's appointment.")
    again = client.post(address, {f"r{asked.pk}-action": "approve"})
    assert again.status_code == 302  # already answered: said so, nothing changed
    asked.refresh_from_db()
    assert asked.status == RequestStatus.DECLINED


def test_only_the_prescriber_answers_and_only_this_patients_requests(world):
    plan, asked = waiting(world)
    address = url(world, "requests/", asked.pk, "answer")
    assert world.client("practitioner").post(
        address, {f"r{asked.pk}-action": "approve"}).status_code == 403
    other = f"/patients/{world.p2.pk}/medication/requests/{asked.pk}/answer/"
    assert world.client("prescriber").post(
        other, {f"r{asked.pk}-action": "approve"}).status_code == 404
    assert DoseRequest.objects.get(pk=asked.pk).status == RequestStatus.PENDING


# --- medication reviews --------------------------------------------------------------------


def review_post(plan, **changed) -> dict:
    data = {"version": str(plan.version), "held_on": TODAY.isoformat(), "adequacy": "right",
            "use_on_top": "", "side_effects": "Sweating", "patient_view": "I feel settled.",
            "substance_goal": "stable", "goal_chosen_by": "patient", "goal_discussed": "on",
            "next_review": days(70).isoformat(), "notes": ""}
    data.update(changed)
    return data


def test_holding_a_review_moves_the_review_date_as_a_new_plan_version(world):
    plan = methadone(world)
    client = world.client("prescriber")
    page = client.get(url(world, "review/"))
    html = page.content.decode()
    assert "Staying stable on medication is a goal in its own right" in html
    assert "Stay stable on this dose" in html
    response = client.post(url(world, "review/"), review_post(plan))
    assert response.status_code == 302, errors_of(response)
    review = MedicationReview.objects.get(plan=plan)
    assert (review.substance_goal, review.patient_view, review.held_by) == (
        "stable", "I feel settled.", world.users["prescriber"])
    plan.refresh_from_db()
    assert plan.review_date == days(70) and plan.version == 2
    version = PlanVersion.objects.get(plan=plan, number=2)
    assert version.reason.startswith("Medication review held on")
    assert version.terms["review_date"] == days(70).isoformat()
    html = client.get(url(world)).content.decode()
    assert "I feel settled." in html and "Stay stable on this dose (the patient's choice)" in html


@pytest.mark.parametrize(("changed", "field", "words"), [
    ({"next_review": days(120).isoformat()}, "next_review", "3 months"),
    ({"next_review": days(0).isoformat()}, "next_review", "after today"),
    ({"next_review": "2026-13-01"}, "next_review", "real date"),
    ({"held_on": days(2).isoformat()}, "held_on", "future"),
    ({"patient_view": ""}, "patient_view", "in their words"),
    ({"substance_goal": "push"}, "substance_goal", "valid choice"),
])
def test_a_review_refuses_bad_input_naming_the_field(world, changed, field, words):
    plan = methadone(world)
    response = world.client("prescriber").post(url(world, "review/"),
                                               review_post(plan, **changed))
    assert response.status_code == 200
    found = errors_of(response)
    assert field in found and words in found[field], found
    assert not MedicationReview.objects.exists()
    plan.refresh_from_db()
    assert plan.version == 1


def test_the_services_shorter_interval_bounds_the_next_review(world):
    MedicationSettings.objects.create(organisation=world.org, review_every_days=28)
    plan = methadone(world)
    response = world.client("prescriber").post(url(world, "review/"),
                                               review_post(plan, next_review=days(40).isoformat()))
    assert "at least every 28 days here" in errors_of(response)["next_review"]
    assert world.client("prescriber").get(url(world, "review/")).context["form"][
        "next_review"].value() == days(28)


def test_a_review_of_a_plan_changed_meanwhile_is_refused_and_kept(world):
    plan = methadone(world)
    opened = review_post(plan, patient_view="Kept words")
    doses.change_plan(prescriber(world), plan, plan.version, terms(high=Decimal(80)), "Other")
    response = world.client("prescriber").post(url(world, "review/"), opened)
    assert response.status_code == 200
    assert b"Someone changed this plan after you opened the review" in response.content
    assert b"Kept words" in response.content
    assert not MedicationReview.objects.exists()


def test_only_the_prescriber_holds_reviews(world):
    methadone(world)
    assert world.client("practitioner").get(url(world, "review/")).status_code == 403


# --- reductions ----------------------------------------------------------------------------


def reduction_post(**changed) -> dict:
    data = {"started_on": days(1).isoformat(), "step": "5", "every_days": "7", "target": "20",
            "chosen_by": "patient", "action": "save"}
    data.update(changed)
    return data


def reducing(world):
    plan = methadone(world, dose=30)
    world.client("prescriber").post(url(world, "reduction/"), reduction_post())
    return plan, Reduction.objects.get(plan=plan)


def test_planning_a_reduction_shows_the_steps_before_saving_and_stores_them_after(world):
    plan = methadone(world, dose=30)
    client = world.client("prescriber")
    preview = client.post(url(world, "reduction/"), reduction_post(action="preview"))
    assert preview.status_code == 200
    steps = preview.context["preview"]["steps"]
    assert [s.dose for s in steps] == [Decimal(25), Decimal(20)]
    assert not Reduction.objects.exists()
    response = client.post(url(world, "reduction/"), reduction_post())
    assert response.status_code == 302
    reduction = Reduction.objects.get(plan=plan)
    assert list(reduction.steps.values_list("day", "dose")) == [
        (days(1), Decimal(25)), (days(8), Decimal(20))]
    html = client.get(url(world)).content.decode()
    assert "Steps to come" in html and "(planned)" in html
    assert 'class="dose-planned"' in html


@pytest.mark.parametrize(("changed", "field", "words"), [
    ({"started_on": days(-1).isoformat()}, "started_on", "past"),
    ({"step": "0"}, "step", "more than 0"),
    ({"step": "99999999"}, "step", "too long"),
    ({"every_days": "0"}, "every_days", "whole number"),
    ({"target": "10"}, "target", "below the lowest dose"),
])
def test_a_reduction_refuses_bad_input_naming_the_field(world, changed, field, words):
    methadone(world)
    response = world.client("prescriber").post(url(world, "reduction/"),
                                               reduction_post(**changed))
    found = errors_of(response)
    assert field in found and words in found[field], found
    assert not Reduction.objects.exists()


def test_the_care_team_pauses_and_resumes_a_reduction(world):
    plan, reduction = reducing(world)
    address = url(world, "reductions/", reduction.pk)
    client = world.client("practitioner")  # the keyworker may pause and resume
    response = client.post(address, {"action": "pause"})
    assert response.status_code == 302
    reduction.refresh_from_db()
    assert reduction.status == ReductionStatus.PAUSED
    assert not plan.doses.filter(cancelled_at__isnull=True, day__gt=TODAY).exists()
    client.post(address, {"action": "resume"})
    reduction.refresh_from_db()
    assert reduction.status == ReductionStatus.ACTIVE
    assert plan.doses.filter(cancelled_at__isnull=True, day__gt=TODAY).exists()


def test_going_back_up_is_worded_as_a_choice_not_a_failure(world):
    plan, reduction = reducing(world)
    address = url(world, "reductions/", reduction.pk)
    client = world.client("prescriber")
    refused = client.post(address, {"action": "reverse", "dose": ""})
    assert refused.status_code == 400
    assert b"Enter the dose to go back up to." in refused.content
    # Five days on, the first step (30 to 25 mg, tomorrow) has been taken 4 days before.
    with time_machine.travel(datetime.datetime.combine(days(5), datetime.time(12)).astimezone(),
                             tick=False):
        client = world.client("prescriber")  # signed in on that day
        too_high = client.post(address, {"action": "reverse", "dose": "35"})
        assert too_high.status_code == 400
        assert b"at most the dose before the reduction began (30 mg)" in too_high.content
        response = client.post(address, {"action": "reverse", "dose": "30"}, follow=True)
        html = response.content.decode()
        assert "Going back up to 30 mg from today" in html
        assert "not a failure" in html and "fail" not in html.replace("not a failure", "")
        reduction.refresh_from_db()
        assert reduction.status == ReductionStatus.PAUSED
        assert doses.dose_on(plan, days(5)) == Decimal(30)
        history = html[html.index("Dose history table"):]
        assert "Going back up" in history


def test_stopping_a_reduction_keeps_the_dose_where_it_is(world):
    plan, reduction = reducing(world)
    world.client("team_lead").post(url(world, "reductions/", reduction.pk), {"action": "stop"})
    reduction.refresh_from_db()
    assert reduction.status == ReductionStatus.STOPPED
    assert doses.dose_on(plan, days(30)) == Decimal(30)


def test_reduction_controls_refuse_another_patients_reduction_and_nonsense(world):
    plan, reduction = reducing(world)
    other = f"/patients/{world.p2.pk}/medication/reductions/{reduction.pk}/"
    assert world.client("team_lead").post(other, {"action": "pause"}).status_code == 404
    bad = world.client("prescriber").post(url(world, "reductions/", reduction.pk),
                                          {"action": "explode"})
    assert bad.status_code == 400 and b"Choose what to do." in bad.content


# --- the dose-change sheet for the pharmacy ------------------------------------------------


def test_the_dose_change_sheet_has_what_the_pharmacy_needs_and_is_no_prescription(world):
    plan, asked = waiting(world, dose=35)
    doses.approve(prescriber(world), asked)
    change = plan.doses.get(dose=35)
    response = world.client("practitioner").get(url(world, "changes/", change.pk, "notice"))
    assert response.status_code == 200
    html = response.content.decode()
    for words in ("Dose change", "Pat Patient T-001", "17 May 1985", "T-001",
                  "Methadone oral solution 1 mg/ml", "35 mg a day", "30 mg a day",
                  "Supervised days a week</th><td>5", "Take-home days a week</th><td>2",
                  "Riverside Pharmacy", "Prescriber Tester", "Plan version</th><td>1",
                  "This is a notice of a dose change agreed in the patient&#x27;s medication "
                  "plan. It is not a prescription."):
        assert words in html, words
    pdf = world.client("practitioner").get(url(world, "changes/", change.pk, "notice")
                                           + "?format=pdf")
    assert pdf.status_code in (200, 503)
    if pdf.status_code == 200:
        assert pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")


def test_a_sheet_is_only_for_this_patients_changes(world):
    plan = methadone(world)
    change = plan.doses.get()
    other = f"/patients/{world.p2.pk}/medication/changes/{change.pk}/notice/"
    assert world.client("team_lead").get(other).status_code == 404
    assert world.client("patient").get(url(world, "changes/", change.pk, "notice")
                                       ).status_code in (403, 404)


# --- the service's settings ----------------------------------------------------------------


def test_settings_can_be_made_stricter(world):
    client = world.client("service_admin")
    page = client.get("/manage/medication/")
    assert page.status_code == 200 and b"3-day rule" in page.content
    response = client.post("/manage/medication/", {
        "review_every_days": "56", "missed_days_for_flag": "2",
        "restart_rule": "Ring the prescriber first."})
    assert response.status_code == 302
    saved = MedicationSettings.objects.get(organisation=world.org)
    assert (saved.review_every_days, saved.missed_days_for_flag) == (56, 2)


@pytest.mark.parametrize(("changed", "field"), [
    ({"review_every_days": "120"}, "review_every_days"),
    ({"review_every_days": "99999999"}, "review_every_days"),
    ({"review_every_days": "3"}, "review_every_days"),
    ({"missed_days_for_flag": "4"}, "missed_days_for_flag"),
    ({"missed_days_for_flag": "0"}, "missed_days_for_flag"),
    ({"restart_rule": "   "}, "restart_rule"),
])
def test_settings_cannot_be_loosened(world, changed, field):
    data = {"review_every_days": "91", "missed_days_for_flag": "3",
            "restart_rule": DEFAULT_RESTART_RULE, **changed}
    response = world.client("service_admin").post("/manage/medication/", data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not MedicationSettings.objects.exists()


def test_only_an_admin_changes_the_settings(world):
    for role in ("prescriber", "team_lead", "practitioner"):
        assert world.client(role).get("/manage/medication/").status_code == 403


# --- the printable recovery plan and the navigation ---------------------------------------


def test_the_printable_recovery_plan_shows_the_medication_plan(world):
    from tests.test_permissions import plan_for

    plan_for(world.p1, world)
    without = world.client("practitioner").get(f"/patients/{world.p1.pk}/plan/print/")
    assert b"My medication" not in without.content
    methadone(world)
    html = world.client("practitioner").get(
        f"/patients/{world.p1.pk}/plan/print/").content.decode()
    assert "My medication" in html and "Methadone oral solution 1 mg/ml" in html
    assert "30 mg a day" in html and "20 to 90 mg a day" in html
    assert "It is not a prescription." in html
    portal = world.client("patient").get("/portal/plan/print/").content.decode()
    assert "My medication" in portal


def test_the_patient_pages_link_to_medication(world):
    html = world.client("practitioner").get(f"/patients/{world.p1.pk}/").content.decode()
    assert f'href="/patients/{world.p1.pk}/medication/"' in html
    page = world.client("practitioner").get(url(world)).content.decode()
    assert 'aria-current="page">Medication</a>' in page


def test_a_review_during_a_reduction_keeps_its_steps_where_they_were(world, monkeypatch):
    plan = methadone(world, started=-60, dose=30)
    actor = prescriber(world)
    doses.plan_reduction(actor, plan, days(1), Decimal(2), 14, Decimal(20), "patient")
    before = [c.day for c in doses.ledger(plan)]
    later = days(5)  # the first step taken, the next due in 10 days
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: later)
    plan.refresh_from_db()
    reviews.hold(actor, plan, plan.version, held_on=later, adequacy="right", patient_view="Fine",
                 substance_goal="reduce", goal_chosen_by="patient",
                 next_review=later + datetime.timedelta(days=30))
    assert [c.day for c in doses.ledger(plan)] == before


def test_the_keyworker_is_offered_to_ask_for_a_dose_and_the_prescriber_to_change_the_plan(world):
    methadone(world)
    ask = f'href="/patients/{world.p1.pk}/medication/request/"'
    keyworker = world.client("practitioner").get(url(world)).content.decode()
    assert ask in keyworker and "Change the plan" not in keyworker
    prescribing = world.client("prescriber").get(url(world)).content.decode()
    assert ask not in prescribing and "Change the plan" in prescribing


def test_two_admins_saving_the_settings_never_overwrite_each_other(world):
    other = make_user(world.org, "admin2", Role.SERVICE_ADMIN)
    first, second = world.client("service_admin"), Client()
    second.force_login(other)
    base = {"review_every_days": "91", "missed_days_for_flag": "3",
            "restart_rule": "Ring the prescriber first.", "version": "0"}
    # Both opened the page before any settings were saved; the first save makes the row.
    assert first.post("/manage/medication/", {**base, "review_every_days": "56"}
                      ).status_code == 302
    page = second.post("/manage/medication/", {**base, "review_every_days": "28"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Someone changed these settings while you were editing them" in html
    assert 'value="28"' in html  # what the second admin typed is kept
    saved = MedicationSettings.objects.get(organisation=world.org)
    assert (saved.review_every_days, saved.version) == (56, 1)
    # Saved again from the version now shown, the second admin's change goes in.
    assert second.post("/manage/medication/", {**base, "review_every_days": "28",
                                                "version": "1"}).status_code == 302
    # A page opened at version 1 is now out of date.
    stale = first.post("/manage/medication/", {**base, "version": "1"})
    assert "Someone changed these settings" in stale.content.decode()
    assert MedicationSettings.objects.get(organisation=world.org).review_every_days == 28


def test_only_the_prescriber_goes_back_up_directly_others_ask_by_the_plans_rules(world):
    plan = methadone(world, dose=30, self_setting=False)
    world.client("prescriber").post(url(world, "reduction/"), reduction_post())
    reduction = Reduction.objects.get(plan=plan)
    with time_machine.travel(datetime.datetime.combine(days(5), datetime.time(12)).astimezone(),
                             tick=False):
        keyworker = world.client("practitioner")
        refused = keyworker.post(url(world, "reductions/", reduction.pk),
                                 {"action": "reverse", "dose": "30"})
        assert refused.status_code == 400
        assert b"does not let the dose be set here" in refused.content
        assert doses.dose_on(plan, days(5)) == Decimal(25)
        assert not DoseRequest.objects.filter(plan=plan).exists()
