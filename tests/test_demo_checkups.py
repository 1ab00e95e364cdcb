"""`tandem demo` gives its patients check-up histories with something real in every chart."""

from django.core.management import call_command

from tandem.accounts.models import User
from tandem.assessment.models import CheckupSchedule, Response
from tandem.assessment.results import results_for
from tandem.assessment.schedules import checkup_status, is_due
from tandem.monitoring.models import Flag
from tandem.patients.models import Patient


def test_demo_check_up_histories_are_varied_and_scored(db):
    call_command("demo", patients=150, password="demo-pass-123")
    assert set(Response.objects.values_list("instrument_code", flat=True)) == {
        "top", "life-domains", "phq9", "gad7"}
    assert not Response.objects.filter(status="completed", scores={}).exists()
    labels = set()
    for patient in Patient.objects.all()[:60]:
        for res in results_for(patient):
            for track in res.tracks:
                labels |= {row["change"].label for row in track.rows if row["change"]}
    assert labels == {"reliably improved", "no reliable change", "reliably worse"}
    counts = [Patient.objects.get(pk=p).responses.count()
              for p in Patient.objects.values_list("pk", flat=True)[:150]]
    assert min(counts) < 8 < max(counts)  # drop-outs and long histories
    assert Flag.objects.filter(status="active").exists()
    assert Flag.objects.filter(status="inactive").exclude(action_taken="").exists()
    rules = set(Flag.objects.values_list("rule", flat=True))
    # Some plans have fallen behind, and the demo already says so.
    assert {"safety-answer", "return-to-use", "reliable-deterioration", "life-domain-drop",
            "housing", "no-contact", "review-overdue", "plan-unsigned"} <= rules
    # The demo ends as the rules would leave it: the first sweep raises, changes and closes
    # nothing.
    from tandem.monitoring import evaluate

    def state():
        return set(Flag.objects.values_list("patient_id", "rule", "evidence_key", "status",
                                            "evidence"))

    before = state()
    totals = evaluate.sweep()
    assert (totals["raised"], totals["updated"]) == (0, 0)
    assert state() == before
    flag = Flag.objects.filter(rule="return-to-use").first()
    assert flag.response.patient_id == flag.patient_id  # the check-up it points to
    assert CheckupSchedule.objects.count() == 150
    patient1 = Patient.objects.get(portal_user=User.objects.get(username="patient1"))
    assert is_due(checkup_status(patient1))


def test_demo_priority_sorts_compare(db):
    from tandem.planning.models import SortSession
    from tandem.planning.services import both_submitted, comparison

    call_command("demo", patients=60, password="demo-pass-123")
    sessions = list(SortSession.objects.prefetch_related("sorts"))
    compared = [s for s in sessions if both_submitted(s)]
    assert len(compared) >= 30
    results = [comparison(s) for s in compared]
    assert any(r.disagreements for r in results) and any(r.kappa > 0.3 for r in results)
    assert all(s.discussion for s in compared)
    patient1 = Patient.objects.get(portal_user=User.objects.get(username="patient1"))
    waiting = [s for s in sessions if s.patient_id == patient1.pk and not s.sorts.all()]
    assert waiting  # patient1 has a round to sort in the portal


def test_demo_goals_plans_and_reviews(db):
    from tandem.planning import care_plan
    from tandem.planning.models import CarePlan, Goal, GoalType, Review

    call_command("demo", patients=120, password="demo-pass-123")
    kinds = set(Goal.objects.exclude(goal_type="").values_list("goal_type", flat=True))
    assert kinds == set(GoalType.values)  # every kind of substance goal appears
    assert Review.objects.exclude(t_score_patient=None).exists()
    plans = list(CarePlan.objects.all()[:40])
    assert any(p.versions.count() > 2 for p in plans)
    assert any(p.versions.last().fully_signed for p in plans)
    for plan in plans:
        # The demo writes versions in exactly the shape the app itself keeps.
        assert plan.versions.order_by("number").last().snapshot == care_plan.snapshot(plan)


def test_every_staff_page_of_every_demo_patient_renders(db):
    from django.test import Client

    from tandem.planning.models import Review

    call_command("demo", patients=40, password="demo-pass-123")
    lead = Client()
    lead.force_login(User.objects.get(username="lead"))
    for patient in Patient.objects.filter(team__name__startswith="Team A"):
        base = f"/patients/{patient.pk}/"
        for path in ("", "checkups/", "priorities/", "goals/", "plan/", "plan/print/"):
            reply = lead.get(base + path)
            assert reply.status_code in (200, 404), (path, reply.status_code)
            if path != "plan/print/":
                assert reply.status_code == 200, path
        for session in patient.sort_sessions.all():
            assert lead.get(f"{base}priorities/{session.pk}/").status_code == 200
        for review in Review.objects.filter(plan__patient=patient):
            assert lead.get(f"{base}plan/reviews/{review.pk}/").status_code == 200
    portal = Client()
    portal.force_login(User.objects.get(username="patient1"))
    for path in ("/portal/", "/portal/checkups/", "/portal/progress/", "/portal/priorities/",
                 "/portal/goals/", "/portal/plan/"):
        assert portal.get(path).status_code == 200, path
