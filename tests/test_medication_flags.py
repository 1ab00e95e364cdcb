"""Medication flags as records: raised, brought up to date and cleared through what medication
announces (a plan started or changed, doses changed, a review held, pharmacy reports recorded),
with the service's medication settings; an import's missed-dose flags raised in batches in a
fixed number of queries a batch; the rules on the service's early-warning page."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.caseload import entries as caseload
from tandem.medication import doses, events
from tandem.medication.models import (
    DEFAULT_RESTART_RULE,
    DispensingDay,
    MedicationPlan,
    MedicationReview,
    MedicationSettings,
)
from tandem.monitoring import evaluate
from tandem.monitoring.models import Flag, RuleSetting
from tandem.patients.models import CareTeam, Episode, Patient
from tests.test_checkups import complete

TODAY = timezone.localdate()
METHADONE = "Methadone oral solution 1 mg/ml"


def ago(n: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=n)


def prescriber(world) -> Actor:
    return Actor(user=world.users["prescriber"], role="prescriber")


def terms(**extra) -> doses.Terms:
    values = {"low": D(20), "high": D(120), "step_up_max": D(70), "step_down_max": D(20),
              "min_days_between": 1, "max_rise_7_days": D(70),
              "review_date": TODAY + datetime.timedelta(days=60)}
    values.update(extra)
    return doses.Terms(**values)


def start(world, patient=None, *, days_ago=200, dose=30, medicine="methadone",
          **extra) -> MedicationPlan:
    patient = patient or world.p1
    episode = patient.episodes.get(status="active")
    return doses.start_plan(prescriber(world), episode, medicine, terms(**extra), D(dose),
                            ago(days_ago), "Agreed at assessment")


def report(plan, statuses: dict[int, str]) -> None:
    """Pharmacy reports for these days ago, as an import stores them, then its one signal."""
    DispensingDay.objects.bulk_create([
        DispensingDay(organisation_id=plan.organisation_id, patient_id=plan.patient_id,
                      plan=plan, day=ago(n), status=status, source="csv")
        for n, status in statuses.items()])
    events.dispensing_recorded.send(DispensingDay, organisation_id=plan.organisation_id,
                                    patient_ids=[plan.patient_id])


def flags(patient, rule):
    return list(Flag.objects.filter(patient=patient, rule=rule).order_by("raised_at"))


def missed(*days):
    return dict.fromkeys(days, "missed")


# --- missed doses ----------------------------------------------------------------------------


def test_three_missed_days_raise_one_urgent_flag_that_a_longer_run_updates(world):
    plan = start(world)
    report(plan, {5: "supervised", 4: "home"} | missed(3, 2))
    assert flags(world.p1, "missed-doses") == []  # two days: not yet
    report(plan, missed(1))
    (flag,) = flags(world.p1, "missed-doses")
    assert flag.severity == "urgent" and flag.is_open
    assert flag.evidence_key == f"{plan.pk}:{ago(3).isoformat()}"
    assert f"The pharmacy reported {METHADONE} missed on 3 days in a row" in flag.evidence
    assert "The dose is 30 mg a day." in flag.evidence
    assert "usual dose is not given until the prescriber has reviewed" in flag.suggested_action
    assert flag.suggested_action.endswith(f"The service's restart rule: {DEFAULT_RESTART_RULE}")
    # The caseload shows them as urgent at once.
    (row,), counts = caseload.caseload(world.users["prescriber"])
    assert row.urgent and counts["missed_doses"] == 1
    report(plan, missed(0))  # a fourth day: the same flag, its evidence brought up to date
    (same,) = flags(world.p1, "missed-doses")
    assert same.pk == flag.pk and "missed on 4 days in a row" in same.evidence


def test_the_services_settings_decide_the_days_and_the_restart_rule(world):
    MedicationSettings.objects.create(organisation=world.org, missed_days_for_flag=2,
                                      restart_rule="Ring the duty prescriber first.")
    plan = start(world)
    report(plan, missed(2, 1))
    (flag,) = flags(world.p1, "missed-doses")
    assert "2 days in a row" in flag.evidence
    assert flag.suggested_action.endswith("The service's restart rule: Ring the duty prescriber "
                                          "first.")


def test_a_resolved_run_is_not_raised_again_and_a_restart_ends_the_run(world):
    plan = start(world)
    report(plan, missed(6, 5, 4))
    (flag,) = flags(world.p1, "missed-doses")
    reply = world.client("practitioner").post(f"/patients/{world.p1.pk}/flags/{flag.pk}/",
                                              {"resolve-action_taken": "Prescriber told"})
    flag.refresh_from_db()
    assert reply.status_code == 302 and not flag.is_open
    report(plan, missed(3))  # the same run goes on: its flag was dealt with
    assert len(flags(world.p1, "missed-doses")) == 1
    # The prescriber restarts: missed days up to the restart are behind it.
    doses.change_plan(prescriber(world), plan, plan.version, terms(), "Restart after missed days",
                      dose=D(20), from_day=TODAY, restart=True)
    report(plan, missed(2, 1, 0))
    assert len(flags(world.p1, "missed-doses")) == 1


def resolve(world, flag) -> None:
    reply = world.client("practitioner").post(f"/patients/{world.p1.pk}/flags/{flag.pk}/",
                                              {"resolve-action_taken": "Prescriber told"})
    flag.refresh_from_db()
    assert reply.status_code == 302 and not flag.is_open


def test_a_run_that_goes_on_after_its_flag_was_resolved_raises_a_new_urgent_flag(world):
    plan = start(world)
    report(plan, missed(10, 9, 8))
    (first,) = flags(world.p1, "missed-doses")
    resolve(world, first)  # dealt with on the run's third day
    report(plan, missed(7, 6))  # five days: the same run, still dealt with
    assert len(flags(world.p1, "missed-doses")) == 1
    report(plan, missed(5))  # three more days missed after it was resolved: a new urgent flag
    old, new = flags(world.p1, "missed-doses")
    assert old.pk == first.pk and not old.is_open
    assert new.is_open and new.severity == "urgent" and "missed on 6 days in a row" in new.evidence
    assert new.evidence_key == f"{plan.pk}:{ago(10).isoformat()}:2"
    resolve(world, new)
    report(plan, missed(4, 3))
    assert len(flags(world.p1, "missed-doses")) == 2
    report(plan, missed(2))  # nine days
    assert [f.is_open for f in flags(world.p1, "missed-doses")] == [False, False, True]


def test_an_open_missed_dose_flag_follows_its_run_however_long(world):
    plan = start(world)
    report(plan, missed(9, 8, 7))
    (flag,) = flags(world.p1, "missed-doses")
    report(plan, missed(6, 5, 4, 3, 2, 1))  # nine days, the flag still open: one flag
    (same,) = flags(world.p1, "missed-doses")
    assert same.pk == flag.pk and same.is_open and "missed on 9 days in a row" in same.evidence
    assert same.evidence_key == f"{plan.pk}:{ago(9).isoformat()}:3"
    evaluate.evaluate_patient(world.p1)  # the sweep reads the same: still one flag
    assert [f.pk for f in flags(world.p1, "missed-doses")] == [flag.pk]
    resolve(world, same)
    report(plan, missed(0))  # ten days: resolved at nine, not three more yet
    assert len(flags(world.p1, "missed-doses")) == 1


def test_missed_injections_or_alcohol_medicines_do_not_raise_the_tolerance_flag(world):
    plan = start(world, medicine="acamprosate", dose=1998, low=D(1332), high=D(1998),
                 step_up_max=D(666), step_down_max=D(666), max_rise_7_days=D(666))
    report(plan, missed(3, 2, 1))
    assert flags(world.p1, "missed-doses") == []


def add_patients(world, count: int, start_at: int) -> list:
    """Patients on methadone with three missed days each (plans made through the service)."""
    made = []
    for n in range(count):
        patient = Patient.objects.create(
            organisation=world.org, team=world.team_a, service_id=f"M-{start_at + n:05d}",
            given_name="Med", family_name=f"Patient {n}", date_of_birth=datetime.date(1980, 1, 1))
        CareTeam.objects.create(organisation=world.org, patient=patient)
        Episode.objects.create(organisation=world.org, patient=patient, status="active",
                               start_date=ago(300), setting="community")
        plan = start(world, patient)
        DispensingDay.objects.bulk_create([
            DispensingDay(organisation=world.org, patient=patient, plan=plan, day=ago(d),
                          status="missed", source="csv") for d in (3, 2, 1)])
        made.append(patient.pk)
    return made


def test_an_import_raises_its_flags_in_batches_in_a_fixed_number_of_queries(world, monkeypatch):
    monkeypatch.setattr(evaluate, "BATCH", 10)  # the receiver's batches, small here
    few = add_patients(world, 3, 0)
    with CaptureQueriesContext(connection) as small:
        events.dispensing_recorded.send(DispensingDay, organisation_id=world.org.pk,
                                        patient_ids=few)
    assert Flag.objects.filter(rule="missed-doses").count() == 3
    many = add_patients(world, 10, 100)
    with CaptureQueriesContext(connection) as large:
        events.dispensing_recorded.send(DispensingDay, organisation_id=world.org.pk,
                                        patient_ids=many)
    assert Flag.objects.filter(rule="missed-doses").count() == 13
    assert len(large) == len(small)
    more = add_patients(world, 25, 200)  # three batches of 10
    with CaptureQueriesContext(connection) as three:
        events.dispensing_recorded.send(DispensingDay, organisation_id=world.org.pk,
                                        patient_ids=more + [world.p2.pk])  # p2: no plan
    assert Flag.objects.filter(rule="missed-doses").count() == 38
    # The settings once, then the same statements for each batch.
    per_batch = len(small) - 1
    assert len(three) <= 1 + 3 * per_batch
    # Sent again (a re-import of the same days): nothing new, nothing written.
    with CaptureQueriesContext(connection) as again:
        events.dispensing_recorded.send(DispensingDay, organisation_id=world.org.pk,
                                        patient_ids=few)
    assert Flag.objects.filter(rule="missed-doses").count() == 38
    assert not [q for q in again.captured_queries
                if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]


def test_a_failing_evaluation_keeps_the_reports_and_queues_the_worker(world, monkeypatch):
    from django_tasks_db.models import DBTaskResult

    plan = start(world)

    def broken(*args, **kwargs):
        raise RuntimeError("a rule broke")

    monkeypatch.setattr(evaluate, "evaluate_dispensing", broken)
    before = DBTaskResult.objects.count()
    report(plan, missed(3, 2, 1))
    assert DispensingDay.objects.filter(plan=plan).count() == 3
    assert DBTaskResult.objects.count() == before + 1
    assert flags(world.p1, "missed-doses") == []


# --- reviews, goals, ECG and reductions ------------------------------------------------------


def hold_review(world, plan, *, held=TODAY, goal=True, next_in=60) -> MedicationReview:
    review = MedicationReview.objects.create(
        organisation=world.org, plan=plan, held_on=held, adequacy="right",
        patient_view="Feeling steady", substance_goal="stable", goal_chosen_by="patient",
        goal_discussed=goal, next_review=held + datetime.timedelta(days=next_in),
        held_by=world.users["prescriber"])
    events.review_held.send(MedicationReview, review=review)
    return review


def test_an_overdue_review_is_flagged_and_closes_itself_when_the_review_is_held(world):
    plan = start(world, days_ago=100)  # no review since the start: due 9 days ago
    (flag,) = flags(world.p1, "medication-review-overdue")  # raised with the plan itself
    assert flag.severity == "medium" and flag.is_open
    assert f"was due on {ago(9).day} {ago(9):%B %Y}" in flag.evidence
    counts = caseload.caseload(world.users["prescriber"])[1]
    assert counts["medication_reviews_overdue"] == 1
    hold_review(world, plan)
    flag.refresh_from_db()
    assert not flag.is_open and flag.resolved_by is None
    assert "Closed by Tandem" in flag.action_taken and "review was held" in flag.action_taken
    assert caseload.caseload(world.users["prescriber"])[1]["medication_reviews_overdue"] == 0


def test_the_services_shorter_interval_makes_a_review_due_sooner(world):
    MedicationSettings.objects.create(organisation=world.org, review_every_days=28)
    plan = start(world, days_ago=60)
    (first,) = flags(world.p1, "medication-review-overdue")  # 28 days after the start
    assert f"was due on {ago(32).day} {ago(32):%B %Y}" in first.evidence
    hold_review(world, plan, held=ago(30))  # recorded late: due again 28 days after it
    closed, flag = flags(world.p1, "medication-review-overdue")
    assert closed.pk == first.pk and not closed.is_open and flag.is_open
    assert f"was due on {ago(2).day} {ago(2):%B %Y}" in flag.evidence


def test_a_year_on_the_medicine_without_talking_about_the_goal_is_a_low_flag(world):
    plan = start(world, days_ago=400)
    hold_review(world, plan, held=ago(10), goal=False)
    (flag,) = flags(world.p1, "medication-goal-not-discussed")
    assert flag.severity == "low" and flag.evidence.endswith(
        "Talk about what the patient wants next.")
    assert "stable" in flag.suggested_action
    hold_review(world, plan, held=TODAY, goal=True)
    flag.refresh_from_db()
    assert not flag.is_open


def test_a_dose_at_the_ecg_threshold_without_an_ecg_is_flagged_until_one_is_recorded(world):
    plan = start(world)
    assert flags(world.p1, "ecg-missing") == []
    doses.change_plan(prescriber(world), plan, plan.version, terms(), "Still using on top",
                      dose=D(100), from_day=TODAY)
    (flag,) = flags(world.p1, "ecg-missing")
    assert flag.severity == "high" and "at 100 mg a day" in flag.evidence
    plan.refresh_from_db()
    doses.change_plan(prescriber(world), plan, plan.version, terms(last_ecg_on=TODAY),
                      "ECG done: QTc normal")
    flag.refresh_from_db()
    assert not flag.is_open and "ECG date was recorded" in flag.action_taken


def test_a_service_cannot_switch_the_ecg_flag_off_or_lower_it(world):
    RuleSetting.objects.create(organisation=world.org, rule="ecg-missing", enabled=False,
                               severity="low")
    plan = start(world)
    doses.change_plan(prescriber(world), plan, plan.version, terms(), "Still using on top",
                      dose=D(100), from_day=TODAY)
    (flag,) = flags(world.p1, "ecg-missing")
    assert flag.severity == "high" and flag.is_open
    plan.refresh_from_db()
    doses.change_plan(prescriber(world), plan, plan.version, terms(last_ecg_on=TODAY),
                      "ECG done: QTc normal")
    flag.refresh_from_db()  # and it still closes itself when the ECG is recorded
    assert not flag.is_open and "ECG date was recorded" in flag.action_taken


def crack(days_by_week):
    return {f"crack_w{n}": d for n, d in enumerate(days_by_week, start=1)}


def test_use_during_a_reduction_is_flagged_high(world):
    plan = start(world, dose=30)
    doses.change_plan(prescriber(world), plan, plan.version, terms(), "Settled",
                      dose=D(60), from_day=ago(0))
    plan.refresh_from_db()
    doses.plan_reduction(prescriber(world), plan, TODAY + datetime.timedelta(days=1), D(5), 7,
                         D(40), "patient")
    complete(world.p1, "top", crack([2, 3, 1, 2]), 120)
    complete(world.p1, "top", crack([0, 0, 0, 0]), 60)
    complete(world.p1, "top", crack([3, 1, 0, 0]), 0)
    evaluate.evaluate_patient(world.p1, today=TODAY + datetime.timedelta(days=1))
    assert flags(world.p1, "use-during-reduction") == []  # the check-up came before its start
    complete(world.p1, "top", crack([0, 0, 0, 0]), -30)
    complete(world.p1, "top", crack([0, 0, 0, 2]), -60)
    evaluate.evaluate_patient(world.p1, today=TODAY + datetime.timedelta(days=61))
    (flag,) = flags(world.p1, "use-during-reduction")
    assert flag.severity == "high" and flag.evidence.startswith(
        f"During the reduction of {METHADONE} that started on")
    assert "not a failure" in flag.suggested_action


def test_stopping_the_plan_closes_its_self_clearing_flags(world):
    plan = start(world, days_ago=100)
    (flag,) = flags(world.p1, "medication-review-overdue")
    doses.stop_plan(prescriber(world), plan, plan.version, "Finished treatment")
    flag.refresh_from_db()
    assert not flag.is_open


def test_the_sweep_and_one_patient_see_the_same_medication_flags(world):
    plan = start(world, days_ago=100)
    DispensingDay.objects.bulk_create([
        DispensingDay(organisation=world.org, patient=world.p1, plan=plan, day=ago(d),
                      status="missed", source="staff") for d in (3, 2, 1)])
    Flag.objects.all().delete()
    caseload.refresh()
    evaluate.sweep()
    assert sorted(f.rule for f in Flag.objects.filter(patient=world.p1,
                                                     rule__in=MEDICATION_RULES)) == [
        "medication-review-overdue", "missed-doses"]


# --- the gather ------------------------------------------------------------------------------


def test_gather_reads_medication_in_a_fixed_number_of_queries(world):
    plan = start(world, days_ago=400)
    hold_review(world, plan, held=ago(20), goal=False)
    report(plan, missed(3, 2, 1))
    with CaptureQueriesContext(connection) as one:
        facts = evaluate.medication_facts(world.org.pk, [world.p1.pk, world.p2.pk], TODAY)
    m = facts[world.p1.pk]
    assert world.p2.pk not in facts
    assert (m.medicine, m.dose, m.last_review, m.last_goal_review) == (METHADONE, 30.0, ago(20),
                                                                        None)
    assert m.ecg_at_or_above == 100.0 and m.tolerance_falls and m.missed_days_for_flag == 3
    assert [s for _d, s in m.dispensing] == ["missed"] * 3
    for pk in add_patients(world, 6, 300):
        p = MedicationPlan.objects.get(patient_id=pk)
        hold_review(world, p, held=ago(5))
    ids = list(Patient.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as many:
        assert len(evaluate.medication_facts(world.org.pk, ids, TODAY)) == 7
    assert len(many) == len(one) <= 7
    with CaptureQueriesContext(connection) as none:
        assert evaluate.medication_facts(world.org.pk, [world.p2.pk], TODAY) == {}
    assert len(none) == 1


# --- the service's early-warning page --------------------------------------------------------


MEDICATION_RULES = ("missed-doses", "medication-review-overdue", "medication-goal-not-discussed",
                    "ecg-missing", "use-during-reduction")


@pytest.mark.parametrize("code", MEDICATION_RULES)
def test_the_rules_page_shows_each_medication_rule_with_its_source(world, code):
    from tandem.core.flags import RULES

    page = world.client("service_admin").get("/manage/checkups/early-warning/")
    html = page.content.decode()
    spec = RULES[code]
    assert page.status_code == 200 and f"<legend>{spec.title}</legend>" in html
    section = html.split(f"<legend>{spec.title}</legend>")[1].split("</fieldset>")[0]
    assert "Source:" in section
    select = section.split(f'name="{code}-severity"')[1].split("</select>")[0]
    if spec.fixed:  # missed doses and ECG not recorded: always on at their own severity
        words = {"missed-doses": "Urgent", "ecg-missing": "High"}[code]
        assert words in select and "Low" not in select and "disabled" in section
    else:
        assert "Low" in select


def test_patients_without_enough_missed_days_cost_one_query_a_batch(world):
    plan = start(world)
    DispensingDay.objects.bulk_create([
        DispensingDay(organisation=world.org, patient=world.p1, plan=plan, day=ago(d),
                      status=status, source="csv")
        for d, status in ((4, "missed"), (3, "supervised"), (2, "missed"), (1, "home"))])
    with CaptureQueriesContext(connection) as queries:
        assert evaluate.evaluate_dispensing(world.org.pk, [world.p1.pk, world.p2.pk]) == (0, 0)
    # the service's rule and medication settings, then who missed enough days
    assert len(queries) == 3
    report(plan, missed(0))  # a third missed day, not in a row: read, and still no flag
    assert flags(world.p1, "missed-doses") == []


def test_days_recorded_through_the_dispensing_service_raise_the_flag_in_the_same_call(world):
    from tandem.medication import dispensing

    plan = start(world)
    staff = Actor(user=world.users["practitioner"], role="practitioner")
    dispensing.record(staff, plan, [(ago(3), "missed"), (ago(2), "missed")], "staff")
    assert flags(world.p1, "missed-doses") == []
    dispensing.record(staff, plan, [(ago(1), "missed")], "staff")
    (flag,) = flags(world.p1, "missed-doses")
    assert flag.severity == "urgent" and "missed on 3 days in a row" in flag.evidence
