"""Flags as records: raised from stored data (after a check-up, by the worker, and by the
nightly sweep), one per problem, updated by later evidence, acknowledged and resolved with what
was done, configurable per service; re-engagement of someone in post-exit monitoring."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tandem.monitoring import evaluate
from tandem.monitoring.models import Contact, Flag, RuleSetting, Sweep
from tandem.monitoring.tasks import sweep_due
from tandem.patients.models import Episode
from tests.test_checkups import PHQ9_LOW, complete, enter

TODAY = timezone.localdate()


def crack(days_by_week):
    """TOP answers with crack use per week (w1 = the last 7 days)."""
    return {f"crack_w{n}": d for n, d in enumerate(days_by_week, start=1)}


@pytest.fixture
def worker(monkeypatch):
    """Run `tandem worker --batch` in this process. The test's transaction must survive, so
    the worker's closing of old connections is skipped here."""
    import django_tasks_db.management.commands.db_worker as db_worker

    from tandem.web.management.commands import worker as command

    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    monkeypatch.setattr(command, "close_old_connections", lambda: None)

    def run(sweep=False):
        call_command("worker", batch=True, no_sweep=not sweep, verbosity=0)
    return run


def flags(patient, rule=None):
    qs = Flag.objects.filter(patient=patient)
    return list(qs.filter(rule=rule) if rule else qs)


def test_return_to_use_is_flagged_once_and_updated_by_the_next_check_up(world):
    complete(world.p1, "top", crack([2, 3, 1, 2]), 120)
    complete(world.p1, "top", crack([0, 0, 0, 0]), 60)
    latest = complete(world.p1, "top", crack([4, 3, 2, 0]), 2)
    evaluate.evaluate_patient(world.p1)
    (flag,) = flags(world.p1, "return-to-use")
    assert flag.severity == "high" and flag.is_open
    day = latest.completed_on
    assert flag.evidence.startswith(
        f"Days using crack rose from 0 to 9 in the 28 days before the check-up on "
        f"{day.day} {day:%B %Y}")
    assert flag.response_id == latest.pk
    evaluate.evaluate_patient(world.p1)  # evaluating again never duplicates
    assert len(flags(world.p1, "return-to-use")) == 1
    newer = complete(world.p1, "top", crack([5, 5, 5, 5]), 0)
    evaluate.evaluate_patient(world.p1)
    (same,) = flags(world.p1, "return-to-use")
    assert same.pk == flag.pk and "Still using" in same.evidence
    assert same.response_id == newer.pk


def test_a_resolved_flag_is_not_raised_again_for_the_same_evidence(world):
    complete(world.p1, "top", {"housing_eviction_risk": True}, 3)
    evaluate.evaluate_patient(world.p1)
    (flag,) = flags(world.p1, "housing")
    client = world.client("practitioner")
    client.post(f"/patients/{world.p1.pk}/flags/{flag.pk}/",
                {"resolve-action_taken": "Referred to Housing Options"})
    evaluate.evaluate_patient(world.p1)
    (flag,) = flags(world.p1, "housing")
    assert not flag.is_open and flag.evidence.startswith("At the check-up on")


def test_deterioration_after_a_check_up_is_flagged_in_the_same_request(world):
    complete(world.p1, "phq9", PHQ9_LOW, 60)  # 0 (minimal)
    client = world.client("practitioner")
    _, reply = enter(client, world.p1, "phq9", {str(i): "2" for i in range(1, 9)} | {"9": "0"})
    assert reply.status_code == 302
    (flag,) = flags(world.p1, "reliable-deterioration")
    assert "PHQ-9" in flag.evidence and "from 0 to 16" in flag.evidence
    assert not DBTaskResult.objects.filter(status="READY").exists()


def test_a_batch_of_check_ups_is_evaluated_by_the_worker(world, worker):
    complete(world.p1, "phq9", PHQ9_LOW, 60)  # 0 (minimal)
    client = world.client("practitioner")
    answers = {str(i): 2 for i in range(1, 9)} | {"9": 0}
    reply = client.post("/api/v1/responses", {"responses": [
        {"patient_id": str(world.p1.pk), "instrument": "phq9", "answers": answers}]},
        content_type="application/json")
    assert reply.status_code == 201, reply.content
    # No worker has run: the batch is stored, its evaluation waits in the queue.
    assert flags(world.p1, "reliable-deterioration") == []
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    worker()
    (flag,) = flags(world.p1, "reliable-deterioration")
    assert "PHQ-9" in flag.evidence and "from 0 to 16" in flag.evidence
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_plan_review_signature_contact_and_goal_rules_read_their_data(world):
    from tandem.planning.models import CarePlan, Goal, GoalRating, PlanVersion, Review

    user = world.users["practitioner"]
    goal = Goal.objects.create(
        organisation=world.org, patient=world.p1, card="housing", statement="Get my own flat",
        proposed_by="patient", created_by=user, updated_by=user, gas_minus2="Evicted",
        gas_minus1="Hostel", gas_0="Flat offer", gas_plus1="Flat", gas_plus2="Flat and work")
    plan = CarePlan.objects.create(organisation=world.org, patient=world.p1, status="active",
                                   review_date=TODAY - datetime.timedelta(days=3),
                                   updated_by=user)
    PlanVersion.objects.create(plan=plan, number=1, snapshot={}, created_by=user,
                               created_at=timezone.now() - datetime.timedelta(days=20))
    for days in (60, 30):
        review = Review.objects.create(organisation=world.org, plan=plan, created_by=user,
                                       held_on=TODAY - datetime.timedelta(days=days),
                                       next_review=TODAY)
        GoalRating.objects.create(review=review, goal=goal, patient_level=-2,
                                  practitioner_level=-1)
    evaluate.evaluate_patient(world.p1)
    rules = {f.rule for f in flags(world.p1)}
    assert {"review-overdue", "plan-unsigned", "goal-not-progressing", "no-contact"} <= rules
    (gas,) = flags(world.p1, "goal-not-progressing")
    assert "Get my own flat" in gas.evidence and "the patient's view" in gas.evidence
    (quiet,) = flags(world.p1, "no-contact")
    assert "30 days" in quiet.evidence  # the last review was the last contact


def test_a_recorded_contact_counts_and_the_form_names_bad_fields(world):
    client = world.client("practitioner")
    url = f"/patients/{world.p1.pk}/contacts/new/"
    bad = client.post(url, {"on": (TODAY + datetime.timedelta(days=2)).isoformat(),
                            "method": "phone", "note": "Rang"})
    assert bad.status_code == 200
    assert "The date of the contact cannot be in the future." in bad.content.decode()
    assert 'value="Rang"' in bad.content.decode() or "Rang" in bad.content.decode()
    ok = client.post(url, {"on": TODAY.isoformat(), "method": "phone", "note": "Rang"})
    assert ok.status_code == 302 and Contact.objects.get().recorded_by == world.users[
        "practitioner"]
    evaluate.evaluate_patient(world.p1)
    assert flags(world.p1, "no-contact") == []


def test_acknowledge_then_resolve_only_with_what_was_done(world):
    flag = Flag.objects.create(organisation=world.org, patient=world.p1, rule="safety-answer",
                               evidence_key="r:9", severity="urgent", evidence="PHQ-9 item 9")
    url = f"/patients/{world.p1.pk}/flags/{flag.pk}/"
    assert world.client("prescriber").get(url).status_code == 200  # the care team can read
    assert world.client("prescriber").post(url, {"acknowledge": "1"}).status_code == 403
    client = world.client("practitioner")
    client.post(url, {"acknowledge": "1"})
    flag.refresh_from_db()
    assert flag.acknowledged_by == world.users["practitioner"] and flag.is_open
    empty = client.post(url, {"resolve-action_taken": "  "})
    assert "What was done: Write what was done before resolving the flag." in (
        empty.content.decode())
    flag.refresh_from_db()
    assert flag.is_open
    done = client.post(url, {"resolve-action_taken": "Spoke to her; safety plan agreed."})
    assert done.status_code == 302
    flag.refresh_from_db()
    assert flag.status == "inactive" and flag.resolved_by == world.users["practitioner"]
    history = client.get(f"/patients/{world.p1.pk}/flags/").content.decode()
    assert "Spoke to her; safety plan agreed." in history


def test_services_switch_rules_and_change_thresholds(world):
    admin = world.client("service_admin")
    url = "/manage/checkups/early-warning/"
    page = admin.get(url).content.decode()
    assert "Return to use" in page and "Escalation steps" in page
    data = {}
    from tandem.core.flags import RULES

    for code, spec in RULES.items():
        data[f"{code}-enabled"] = "on"
        data[f"{code}-version"] = "0"
        for t in spec.thresholds:
            data[f"{code}-t_{t.name}"] = str(t.default)
    bad = admin.post(url, data | {"no-contact-t_days": "2"})
    assert bad.status_code == 200 and "Ensure this value is greater than or equal to 7" in (
        bad.content.decode())
    del data["no-contact-enabled"]
    del data["safety-answer-enabled"]  # safety answers cannot be switched off
    data["safety-answer-suggested_action"] = "Ring the duty worker on 0161 000 0000."
    assert admin.post(url, data).status_code == 302
    assert RuleSetting.objects.get(organisation=world.org, rule="no-contact").enabled is False
    assert RuleSetting.objects.get(organisation=world.org, rule="safety-answer").enabled is True
    # The service's escalation steps come with an urgent flag raised in the request itself.
    enter(world.client("practitioner"), world.p1, "phq9", {str(i): "0" for i in range(1, 9)}
          | {"9": "2"})
    (urgent,) = flags(world.p1, "safety-answer")
    assert urgent.suggested_action == "Ring the duty worker on 0161 000 0000."
    settings = evaluate.settings_for(world.org.pk)
    assert settings.config["no-contact"].enabled is False
    evaluate.evaluate_patient(world.p1)
    assert flags(world.p1, "no-contact") == []


def test_the_sweep_is_queued_once_a_day_and_catches_up(world, worker):
    Episode.objects.filter(patient=world.p1).update(
        start_date=TODAY - datetime.timedelta(days=200))
    late = timezone.localtime().replace(hour=23)
    assert sweep_due(late, hour=2) == TODAY.isoformat()
    assert sweep_due(late, hour=2) is None  # another worker: already queued
    worker(sweep=True)
    sweep = Sweep.objects.get(day=TODAY)
    assert sweep.finished_at is not None and sweep.patients >= 3
    assert flags(world.p1, "no-contact") and flags(world.p1, "checkup-overdue")
    early = timezone.localtime().replace(hour=1) + datetime.timedelta(days=1)
    assert sweep_due(early, hour=2) is None  # not yet time tomorrow


def test_re_engaging_opens_a_new_episode_with_the_team_and_the_last_plan(world):
    from tandem.planning.models import CarePlan, PlanAction

    episode = Episode.objects.get(patient=world.p1)
    episode.status, episode.exit_date = "post-exit-monitoring", TODAY - datetime.timedelta(10)
    episode.exit_reason = "completed_free"
    episode.save()
    user = world.users["practitioner"]
    plan = CarePlan.objects.create(organisation=world.org, patient=world.p1, status="active",
                                   review_date=TODAY, updated_by=user, episode=episode)
    PlanAction.objects.create(organisation=world.org, plan=plan, intervention="housing-support",
                              description="Housing Options referral", updated_by=user)
    flag = Flag.objects.create(organisation=world.org, patient=world.p1, rule="return-to-use",
                               evidence_key="crack:x", severity="high",
                               evidence="Days using crack rose from 0 to 9.")
    client = world.client("practitioner")
    detail = client.get(f"/patients/{world.p1.pk}/").content.decode()
    assert "Re-engage in treatment" in detail
    url = f"/patients/{world.p1.pk}/re-engage/?flag={flag.pk}"
    assert "Days using crack rose" in client.get(url).content.decode()
    bad = client.post(url, {"start_date": "", "setting": "community", "carry_plan": "on",
                            "flag": str(flag.pk)})
    assert "New episode starts: This field is required." in bad.content.decode()
    reply = client.post(url, {"start_date": TODAY.isoformat(), "setting": "community",
                              "carry_plan": "on", "flag": str(flag.pk)})
    assert reply.status_code == 302
    episodes = list(world.p1.episodes.order_by("start_date"))
    assert [e.status for e in episodes] == ["finished", "active"]
    new_plan = CarePlan.objects.get(episode=episodes[1])
    assert new_plan.status == "draft"
    assert [a.description for a in new_plan.actions.all()] == ["Housing Options referral"]
    plan.refresh_from_db()
    assert plan.status == "completed"
    assert world.p1.care_team.members.filter(end_date__isnull=True).count() == 2
    flag.refresh_from_db()
    assert not flag.is_open and flag.action_taken.startswith("Re-engaged")


def test_the_severity_order_is_stated_once():
    """The flag model's severities are the core's, in the core's order (most severe first):
    the caseload's SQL, its pages and the API all sort by core.flags.SEVERITY_ORDER."""
    from tandem.core.flags import SEVERITIES, SEVERITY_ORDER
    from tandem.monitoring.models import Severity

    assert [s.value for s in Severity] == list(SEVERITIES)
    assert sorted(SEVERITIES, key=SEVERITY_ORDER.get) == ["urgent", "high", "medium", "low"]


def test_gather_reads_a_batch_in_a_fixed_number_of_queries_with_medication(world):
    """Whatever the number of patients, their medication plans, doses, reviews, reductions
    and pharmacy reports: the same statements for a batch."""
    from decimal import Decimal as D

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tandem.audit.actor import Actor
    from tandem.medication import doses
    from tandem.medication.models import DispensingDay
    from tandem.patients.models import CareTeam, Patient

    prescriber = Actor(user=world.users["prescriber"], role="prescriber")
    terms = doses.Terms(low=D(20), high=D(100), step_up_max=D(30), step_down_max=D(10),
                        min_days_between=1, max_rise_7_days=D(30),
                        review_date=TODAY + datetime.timedelta(days=60))

    def on_medication(n):
        patient = Patient.objects.create(
            organisation=world.org, team=world.team_a, service_id=f"G-{n:03d}", given_name="G",
            family_name=f"Gather {n}", date_of_birth=datetime.date(1980, 1, 1))
        CareTeam.objects.create(organisation=world.org, patient=patient)
        episode = Episode.objects.create(organisation=world.org, patient=patient,
                                         status="active", setting="community",
                                         start_date=TODAY - datetime.timedelta(days=200))
        plan = doses.start_plan(prescriber, episode, "methadone", terms, D(30),
                                TODAY - datetime.timedelta(days=100), "Start")
        DispensingDay.objects.bulk_create([
            DispensingDay(organisation=world.org, patient=patient, plan=plan, source="csv",
                          day=TODAY - datetime.timedelta(days=d), status="missed")
            for d in (1, 2)])
        complete(patient, "phq9", PHQ9_LOW, 10)
        return patient.pk

    ids = [world.p1.pk, on_medication(0)]
    with CaptureQueriesContext(connection) as few:
        facts = evaluate.gather(world.org, ids, TODAY)
    assert facts[ids[1]].medication.dispensing and facts[world.p1.pk].medication is None
    ids += [on_medication(n) for n in range(1, 9)]
    with CaptureQueriesContext(connection) as many:
        facts = evaluate.gather(world.org, ids, TODAY)
    assert all(facts[pk].medication for pk in ids[1:])
    assert len(many) == len(few)
