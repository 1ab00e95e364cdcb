"""`tandem demo` has patients on each medicine with histories, every dose of which keeps the
rules: each entry of every demo dose ledger passes `core.dosing.refusals` against the ledger
before it, under the plan version it was made in."""

import datetime
from decimal import Decimal

from django.core.management import call_command

from tandem.core import dosing
from tandem.demo import medication as demo
from tandem.medication import doses, registry
from tandem.medication.models import (
    DoseChange,
    DoseRequest,
    MedicationPlan,
    MedicationReview,
    Reduction,
)
from tandem.monitoring.models import Flag

TODAY = datetime.date.today()


def refused_entries(plan) -> list:
    """Every ledger entry of `plan` that breaks a rule, checked against the entries before it
    and the limits of the plan version it was made under."""
    medicine = registry.get(plan.medicine)
    terms = {v.number: v.terms for v in plan.versions.all()}
    entries = list(plan.doses.filter(cancelled_at__isnull=True).order_by("day", "made_at"))
    ledger, wrong = [], []
    for entry in entries:
        version = terms[entry.plan_version]
        limits = dosing.PlanLimits(*(Decimal(version[name]) for name in (
            "low", "high", "step_up_max", "step_down_max")), int(version["min_days_between"]),
            Decimal(version["max_rise_7_days"]))
        since = datetime.date.fromisoformat(version["titrating_since"])
        change = dosing.Change(entry.day, entry.dose, entry.kind)
        found = dosing.refusals(ledger, change, limits, medicine,
                                entry.day if entry.kind != "change" else since)
        if found:
            wrong.append((plan.patient.service_id, entry.day, entry.dose, found))
        ledger.append(change)
    return wrong


def story_plans(name):
    reason = demo.FIRST_REASON[name]
    return MedicationPlan.objects.filter(versions__number=1, versions__reason=reason)


def test_the_demo_has_a_patient_on_each_medicine_with_a_history_that_keeps_every_rule(db):
    call_command("demo", patients=40, password="demo-pass-123")
    medicines = set(MedicationPlan.objects.values_list("medicine", flat=True))
    assert {"methadone", "buprenorphine", "buprenorphine-injection-weekly",
            "buprenorphine-injection-monthly", "acamprosate", "naltrexone"} <= medicines
    assert demo.told(MedicationPlan.objects.first().organisation) == set(demo.STORIES)

    plans = list(MedicationPlan.objects.select_related("patient"))
    assert DoseChange.objects.count() > 40
    for plan in plans:
        assert refused_entries(plan) == [], plan
        assert plan.versions.count() == plan.version  # one version per change, none lost

    # Stable on methadone since the episode began: the review overdue, and what they want
    # next not talked about in the last 12 months.
    stable = story_plans("stable").get()
    patient = stable.patient
    assert stable.medicine == "methadone" and stable.review_date < TODAY
    assert (TODAY - stable.started_on).days > 365
    assert stable.doses.filter(cancelled_at__isnull=True).latest("day").day < (
        TODAY - datetime.timedelta(days=365))  # the same dose for over a year
    year_ago = TODAY - datetime.timedelta(days=365)
    assert stable.reviews.filter(held_on__gte=year_ago).exists()
    assert not stable.reviews.filter(held_on__gte=year_ago, goal_discussed=True).exists()
    open_rules = set(Flag.objects.filter(patient=patient, status="active")
                     .values_list("rule", flat=True))
    assert {"medication-review-overdue", "medication-goal-not-discussed"} <= open_rules

    # Setting their own buprenorphine dose (the portal account patient1): requests approved,
    # one declined, later applied at once.
    own = story_plans("self-setting").get()
    assert own.medicine == "buprenorphine" and own.self_setting and own.requests_apply_at_once
    assert own.patient.portal_user.username == "patient1"
    statuses = list(DoseRequest.objects.filter(plan=own).values_list("status", flat=True))
    assert {"approved", "applied", "declined"} <= set(statuses)
    assert own.doses.filter(source="request").count() == statuses.count("approved") + \
        statuses.count("applied")

    # Coming down on methadone: past steps, one pause and a resume, a step still to come.
    reduction = Reduction.objects.get(plan=story_plans("reducing").get())
    steps = reduction.steps.filter(cancelled_at__isnull=True)
    assert steps.filter(day__lte=TODAY).count() >= 3 and steps.filter(day__gt=TODAY).exists()
    assert reduction.steps.filter(cancelled_at__isnull=False).exists()  # taken off by the pause
    assert [e.kind for e in reduction.events.all()] == ["planned", "paused", "resumed"]
    assert reduction.status == "active"

    # Missing doses: the last 3 days reported are missed, and the urgent flag is up.
    missing = story_plans("missing").get()
    latest = list(missing.dispensing_days.order_by("-day").values_list("day", "status")[:4])
    assert [status for _day, status in latest] == ["missed", "missed", "missed", "supervised"]
    assert [day for day, _s in latest[:3]] == [TODAY - datetime.timedelta(days=n)
                                               for n in (1, 2, 3)]
    assert doses.missed_run(missing) == [TODAY - datetime.timedelta(days=n) for n in (3, 2, 1)]
    assert Flag.objects.filter(patient=missing.patient, rule="missed-doses", status="active",
                               severity="urgent").exists()

    # The injection: weekly, stopped, then monthly.
    weekly = story_plans("injection").get()
    assert weekly.medicine == "buprenorphine-injection-weekly" and weekly.status == "stopped"
    monthly = MedicationPlan.objects.get(episode=weekly.episode, status="active")
    assert monthly.medicine == "buprenorphine-injection-monthly"
    assert doses.dose_on(monthly, TODAY) == 96

    # Alcohol medicines as records, nobody setting their own dose.
    for name in ("acamprosate", "naltrexone"):
        plan = story_plans(name).get()
        assert plan.medicine == name and not plan.self_setting

    # The bulk path: a methadone plan for patients whose recovery plan has opioid
    # substitution, its latest review setting its review date.
    bulk = MedicationPlan.objects.filter(versions__number=1, versions__reason=demo.BULK_REASON)
    assert bulk.exists()
    for plan in bulk:
        assert plan.patient.care_plans.filter(actions__intervention="opioid-substitution")
        assert plan.doses.first().dose == 30
        if plan.version == 2:
            assert plan.reviews.get().next_review == plan.review_date

    # The demo ends as the rules would leave it: a sweep finds nothing new.
    from tandem.monitoring import evaluate

    totals = evaluate.sweep()
    assert (totals["raised"], totals["updated"]) == (0, 0)

    # Running it again tells no story twice and gives nobody a second plan.
    count = MedicationPlan.objects.count()
    call_command("demo", patients=40)
    assert MedicationPlan.objects.count() == count
    assert MedicationReview.objects.filter(plan__in=plans).exists()


def test_a_small_demo_tells_the_stories_that_fit(db):
    call_command("demo", patients=6, password="demo-pass-123")
    for plan in MedicationPlan.objects.all():
        assert refused_entries(plan) == []


def test_the_bulk_titration_keeps_the_rules_from_any_start():
    medicine = registry.get("methadone")
    limits = doses.limits_of(demo.BULK_TERMS)
    for days_ago in range(0, 40):
        start = TODAY - datetime.timedelta(days=days_ago)
        ledger = demo.bulk_ledger(start, TODAY)
        assert ledger and ledger[0].dose <= medicine.limits.start_max.value
        assert all(c.day <= TODAY for c in ledger)
        for n, change in enumerate(ledger):
            assert dosing.refusals(ledger[:n], change, limits, medicine, start) == []


def test_the_bulk_columns_are_every_column_the_tables_need():
    from tandem.medication.models import PlanVersion

    for model, columns in ((MedicationPlan, demo.PLAN_COLUMNS),
                           (PlanVersion, demo.VERSION_COLUMNS),
                           (DoseChange, demo.DOSE_COLUMNS),
                           (MedicationReview, demo.REVIEW_COLUMNS)):
        needed = {f.attname for f in model._meta.concrete_fields
                  if not (f.attname == "id" and "id" not in columns)}
        assert needed == set(columns), model.__name__


def test_the_ledger_check_finds_a_dose_written_round_the_rules(world):
    """The check above can fail: a rise too big, written past the service, is found."""
    from tests.test_permissions import api_medication_for

    plan, _asked = api_medication_for(world.p1, world)
    assert refused_entries(plan) == []
    DoseChange.objects.create(plan=plan, day=TODAY, dose=Decimal(80), source="prescriber",
                              plan_version=1, made_by=world.users["prescriber"])
    wrong = refused_entries(plan)
    assert [(day, dose) for _who, day, dose, _why in wrong] == [(TODAY, Decimal(80))]
    assert {r.code for r in wrong[0][3]} >= {"step-up", "week-rise"}
