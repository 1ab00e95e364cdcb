"""Walk every URL and API endpoint with every role; the allowed set must match exactly.

A URL added without a permission rule, or without a row in EXPECTED here, fails this test.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tandem.web.permissions import RULES

ROLES = ["anonymous", "patient", "practitioner", "prescriber", "team_lead", "service_admin",
         "auditor", "service_manager", "other_org"]
SIGNED_IN = set(ROLES) - {"anonymous"}
CASELOAD = {"practitioner", "prescriber", "team_lead", "other_org"}
REGISTER = {"practitioner", "team_lead", "other_org"}
READ_P1 = {"practitioner", "prescriber", "team_lead"}
CHANGE_P1 = {"practitioner", "team_lead"}
ADMIN = {"service_admin"}
API = "api-1.0.0:"

# (view name, method) -> roles that may use it. Patient URLs name p1 (see conftest).
EXPECTED = {
    ("login", "GET"): set(ROLES),
    ("logout", "POST"): SIGNED_IN,
    ("healthz", "GET"): set(ROLES),
    # GOV.UK Notify's delivery receipts: only with its bearer token, which no role holds.
    ("outbox:notify-receipt", "POST"): set(),
    # A message's links, without signing in: whoever holds the link's token.
    ("stop", "GET"): set(ROLES),
    ("stop", "POST"): set(ROLES),
    ("appointment", "GET"): set(ROLES),
    ("appointment", "POST"): set(ROLES),
    ("home", "GET"): SIGNED_IN,
    ("patients:list", "GET"): CASELOAD,
    ("patients:medication-list", "GET"): CASELOAD,
    ("patients:new", "GET"): REGISTER,
    ("patients:new", "POST"): REGISTER,
    ("patients:detail", "GET"): READ_P1,
    ("patients:edit", "GET"): CHANGE_P1,
    ("patients:edit", "POST"): CHANGE_P1,
    ("patients:episode-new", "GET"): CHANGE_P1,
    ("patients:episode-new", "POST"): CHANGE_P1,
    ("patients:episode-edit", "GET"): CHANGE_P1,
    ("patients:episode-edit", "POST"): CHANGE_P1,
    ("patients:member-new", "GET"): CHANGE_P1,
    ("patients:member-new", "POST"): CHANGE_P1,
    ("patients:member-end", "GET"): CHANGE_P1,
    ("patients:member-end", "POST"): CHANGE_P1,
    ("patients:plan", "GET"): READ_P1,
    ("patients:plan-edit", "GET"): CHANGE_P1,
    ("patients:plan-edit", "POST"): CHANGE_P1,
    ("patients:plan-sign", "POST"): CHANGE_P1,
    ("patients:review-new", "GET"): CHANGE_P1,
    ("patients:review-new", "POST"): CHANGE_P1,
    ("patients:review", "GET"): READ_P1,
    ("patients:plan-difference", "GET"): READ_P1,
    ("patients:plan-print", "GET"): READ_P1,
    ("patients:plan-pdf", "GET"): READ_P1,
    ("patients:feedback", "GET"): READ_P1,
    ("patients:action-new", "GET"): CHANGE_P1,
    ("patients:action-new", "POST"): CHANGE_P1,
    ("patients:action-edit", "GET"): CHANGE_P1,
    ("patients:action-edit", "POST"): CHANGE_P1,
    ("patients:proposal-respond", "POST"): CHANGE_P1,
    ("patients:goals", "GET"): READ_P1,
    ("patients:goal-new", "GET"): CHANGE_P1,
    ("patients:goal-new", "POST"): CHANGE_P1,
    ("patients:goal-edit", "GET"): CHANGE_P1,
    ("patients:goal-edit", "POST"): CHANGE_P1,
    ("patients:priorities", "GET"): READ_P1,
    ("patients:priorities-new", "POST"): CHANGE_P1,
    ("patients:sort-session", "GET"): READ_P1,
    ("patients:sort", "GET"): CHANGE_P1,
    ("patients:sort", "POST"): CHANGE_P1,
    ("patients:sort-discussion", "POST"): CHANGE_P1,
    ("patients:checkups", "GET"): READ_P1,
    ("patients:checkup-detail", "GET"): READ_P1,
    ("patients:checkup-new", "GET"): CHANGE_P1,
    ("patients:checkup-new", "POST"): CHANGE_P1,
    ("patients:checkup-entry", "GET"): CHANGE_P1,
    ("patients:checkup-entry", "POST"): CHANGE_P1,
    ("patients:flags", "GET"): READ_P1,
    ("patients:messages", "GET"): READ_P1,
    ("patients:letters", "GET"): REGISTER,
    ("patients:letters-pdf", "GET"): REGISTER,
    ("patients:letters-posted", "POST"): REGISTER,
    ("patients:messages-choices", "GET"): CHANGE_P1,
    ("patients:messages-choices", "POST"): CHANGE_P1,
    ("patients:appointment-new", "GET"): CHANGE_P1,
    ("patients:appointment-new", "POST"): CHANGE_P1,
    ("patients:appointment-cancel", "POST"): CHANGE_P1,
    ("patients:flag", "GET"): READ_P1,
    ("patients:flag", "POST"): CHANGE_P1,
    ("patients:contact-new", "GET"): CHANGE_P1,
    ("patients:contact-new", "POST"): CHANGE_P1,
    ("patients:re-engage", "GET"): CHANGE_P1,
    ("patients:re-engage", "POST"): CHANGE_P1,
    ("patients:timeline", "GET"): READ_P1,
    ("patients:checkup-schedule", "GET"): CHANGE_P1,
    ("patients:checkup-schedule", "POST"): CHANGE_P1,
    ("patients:portal-access", "GET"): READ_P1,
    ("patients:portal-access", "POST"): CHANGE_P1,
    ("patients:portal-letter", "GET"): CHANGE_P1,
    ("patients:portal-letter", "POST"): CHANGE_P1,
    ("portal:home", "GET"): {"patient"},
    ("portal:record-access", "GET"): {"patient"},
    ("portal:messages", "GET"): {"patient"},
    ("portal:message-choices", "GET"): {"patient"},
    ("portal:message-choices", "POST"): {"patient"},
    ("portal:checkups", "GET"): {"patient"},
    ("portal:progress", "GET"): {"patient"},
    ("portal:priorities", "GET"): {"patient"},
    ("portal:goals", "GET"): {"patient"},
    ("portal:plan", "GET"): {"patient"},
    ("portal:plan-sign", "POST"): {"patient"},
    ("portal:plan-propose", "POST"): {"patient"},
    ("portal:plan-print", "GET"): {"patient"},
    ("portal:plan-pdf", "GET"): {"patient"},
    ("portal:feedback", "GET"): {"patient"},
    ("portal:feedback", "POST"): {"patient"},
    ("portal:feedback-pdf", "GET"): {"patient"},
    ("portal:feedback-stop-sharing", "POST"): {"patient"},
    ("portal:sort", "GET"): {"patient"},
    ("portal:sort", "POST"): {"patient"},
    ("portal:checkup-begin", "POST"): {"patient"},
    ("portal:checkup-step", "GET"): {"patient"},
    ("portal:checkup-step", "POST"): {"patient"},
    ("portal:checkup-step-help", "GET"): {"patient"},
    ("portal:checkup-answers", "GET"): {"patient"},
    ("portal:checkup-answers", "POST"): {"patient"},
    ("portal:checkup-finished", "GET"): {"patient"},
    ("portal:medication", "GET"): {"patient"},
    ("portal:medication", "POST"): {"patient"},
    ("portal:medication-withdraw", "POST"): {"patient"},
    ("portal:medication-pause", "POST"): {"patient"},
    ("patients:medication-request", "GET"): CHANGE_P1,
    ("patients:medication-request", "POST"): CHANGE_P1,
    ("patients:medication", "GET"): READ_P1,
    ("patients:medication-new", "GET"): {"prescriber"},
    ("patients:medication-new", "POST"): {"prescriber"},
    ("patients:medication-edit", "GET"): {"prescriber"},
    ("patients:medication-edit", "POST"): {"prescriber"},
    ("patients:medication-stop", "POST"): {"prescriber"},
    ("patients:medication-request-answer", "POST"): {"prescriber"},
    ("patients:medication-review-new", "GET"): {"prescriber"},
    ("patients:medication-review-new", "POST"): {"prescriber"},
    ("patients:medication-reduction-new", "GET"): {"prescriber"},
    ("patients:medication-reduction-new", "POST"): {"prescriber"},
    ("patients:medication-reduction", "POST"): READ_P1,  # the medication team
    ("patients:medication-notice", "GET"): READ_P1,
    ("patients:dispensing", "GET"): READ_P1,
    ("patients:dispensing", "POST"): READ_P1,  # the prescriber records days too
    ("patients:dispensing-import", "GET"): CASELOAD,  # each line's patient checked as well
    ("patients:dispensing-import", "POST"): CASELOAD,
    ("manage:medication", "GET"): ADMIN,
    ("manage:messages", "GET"): ADMIN,
    ("manage:messages", "POST"): ADMIN,
    ("manage:message-template", "GET"): ADMIN,
    ("manage:message-template", "POST"): ADMIN,
    ("manage:medication", "POST"): ADMIN,
    ("manage:users", "GET"): ADMIN,
    ("manage:user-new", "GET"): ADMIN,
    ("manage:user-new", "POST"): ADMIN,
    ("manage:user-edit", "GET"): ADMIN,
    ("manage:user-edit", "POST"): ADMIN,
    ("manage:user-password-reset", "POST"): ADMIN,
    ("manage:password-set", "GET"): set(ROLES),
    ("manage:password-set", "POST"): set(ROLES),
    ("manage:password-set-done", "GET"): set(ROLES),
    ("join:start", "GET"): set(ROLES),
    ("join:start", "POST"): set(ROLES),
    ("join:link", "GET"): set(ROLES),
    ("join:confirm", "GET"): set(ROLES),
    ("join:confirm", "POST"): set(ROLES),
    ("join:forgot", "GET"): set(ROLES),
    ("join:forgot", "POST"): set(ROLES),
    ("join:reset-code", "GET"): set(ROLES),
    ("join:reset-code", "POST"): set(ROLES),
    ("join:reset-link", "GET"): set(ROLES),
    ("join:reset-link", "POST"): set(ROLES),
    ("join:reset-done", "GET"): set(ROLES),
    ("manage:teams", "GET"): ADMIN,
    ("manage:team-new", "GET"): ADMIN,
    ("manage:team-new", "POST"): ADMIN,
    ("manage:team-edit", "GET"): ADMIN,
    ("manage:team-edit", "POST"): ADMIN,
    ("manage:checkups", "GET"): ADMIN,
    ("manage:checkups", "POST"): ADMIN,
    ("manage:instruments", "GET"): ADMIN,
    ("manage:instruments", "POST"): ADMIN,
    ("manage:crisis-contacts", "GET"): ADMIN,
    ("manage:crisis-contacts", "POST"): ADMIN,
    ("manage:life-domains", "GET"): ADMIN,
    ("manage:life-domains", "POST"): ADMIN,
    ("manage:urgent-answers", "GET"): ADMIN,
    ("manage:urgent-answers", "POST"): ADMIN,
    ("manage:flag-rules", "GET"): ADMIN,
    ("manage:flag-rules", "POST"): ADMIN,
    ("audit:events", "GET"): {"auditor"},
    ("audit:export", "GET"): {"auditor"},
    # The service report: managers see every team, team leads their teams, practitioners
    # their own caseload; the patients behind a figure only for those who may open patients.
    ("reports:service", "GET"): {"practitioner", "team_lead", "service_manager", "other_org"},
    ("reports:definitions", "GET"): {"practitioner", "team_lead", "service_manager",
                                     "other_org"},
    ("reports:patients", "GET"): {"practitioner", "team_lead", "other_org"},
    ("reports:export", "GET"): {"practitioner", "team_lead", "service_manager", "other_org"},
    ("api-docs", "GET"): SIGNED_IN,
    (API + "api-root", "GET"): set(),
    (API + "openapi-json", "GET"): SIGNED_IN,
    (API + "patient-list", "GET"): CASELOAD,
    (API + "patient-list", "POST"): REGISTER,
    (API + "patient-detail", "GET"): READ_P1,
    (API + "patient-detail", "PATCH"): CHANGE_P1,
    (API + "episode-list", "GET"): READ_P1,
    (API + "episode-list", "POST"): CHANGE_P1,
    (API + "episode-detail", "GET"): READ_P1,
    (API + "episode-detail", "PATCH"): CHANGE_P1,
    (API + "care-team", "GET"): READ_P1,
    (API + "care-team-members", "POST"): CHANGE_P1,
    (API + "instrument-list", "GET"): CASELOAD | ADMIN,
    (API + "instrument-detail", "GET"): CASELOAD | ADMIN,
    (API + "instrument-score", "POST"): CASELOAD | ADMIN,
    (API + "response-list", "GET"): READ_P1,
    (API + "response-list", "POST"): CHANGE_P1,
    (API + "response-detail", "GET"): READ_P1,
    (API + "response-detail", "PATCH"): CHANGE_P1,
    (API + "response-submit", "POST"): CHANGE_P1,
    (API + "scores", "GET"): READ_P1,
    (API + "response-batch", "POST"): REGISTER,  # each patient named is checked as well
    (API + "sort-list", "GET"): READ_P1,
    (API + "sort-list", "POST"): CHANGE_P1,
    (API + "sort-detail", "PUT"): CHANGE_P1,
    (API + "sort-comparison", "GET"): READ_P1,
    (API + "goal-list", "GET"): READ_P1,
    (API + "goal-list", "POST"): CHANGE_P1,
    (API + "goal-detail", "PUT"): CHANGE_P1,
    (API + "plan", "GET"): READ_P1,
    (API + "plan-sign", "POST"): CHANGE_P1,
    (API + "review-list", "GET"): READ_P1,
    (API + "review-list", "POST"): CHANGE_P1,
    (API + "flag-list", "GET"): CASELOAD,
    (API + "patient-flags", "GET"): READ_P1,
    (API + "flag-acknowledge", "POST"): CHANGE_P1,
    (API + "flag-resolve", "POST"): CHANGE_P1,
    (API + "caseload", "GET"): CASELOAD,
    (API + "timeline", "GET"): READ_P1,
    (API + "medication-plan-list", "GET"): READ_P1,
    (API + "medication-plan-list", "POST"): {"prescriber"},
    (API + "medication-plan-detail", "GET"): READ_P1,
    (API + "medication-plan-detail", "PUT"): {"prescriber"},
    (API + "dose-request-list", "GET"): READ_P1,
    (API + "dose-request-list", "POST"): CHANGE_P1,
    (API + "dose-request-approve", "POST"): {"prescriber"},
    (API + "dose-request-decline", "POST"): {"prescriber"},
    (API + "medication-review-list", "GET"): READ_P1,
    (API + "medication-review-list", "POST"): {"prescriber"},
    (API + "dispensing-list", "GET"): READ_P1,
    (API + "dispensing-list", "POST"): READ_P1,
}


def all_url_names(patterns=None, namespace=""):
    names = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names += all_url_names(entry.url_patterns, ns)
        elif isinstance(entry, URLPattern):
            assert entry.name, f"URL {entry.pattern} has no name, so no rule can be declared"
            names.append(namespace + entry.name)
    return names


def test_every_url_has_a_rule_and_an_expectation():
    names = set(all_url_names())
    assert names - set(RULES) == set(), "URLs without a permission rule"
    assert names == {name for name, _ in EXPECTED}, "EXPECTED out of step with the URLconf"
    assert set(RULES) - names == set(), "rules for URLs that no longer exist"


def flag_for(patient):
    from tandem.monitoring.models import Flag

    return Flag.objects.get_or_create(
        patient=patient, rule="no-contact", evidence_key="since:2026-01-01",
        defaults={"organisation": patient.organisation, "severity": "medium",
                  "evidence": "No contact has been recorded since 1 January 2026."})[0]


def draft_for(patient):
    from tandem.assessment.models import Response

    return Response.objects.get_or_create(
        patient=patient, instrument_code="phq9",
        defaults={"organisation": patient.organisation, "instrument_version": "x",
                  "mode": "self"},
    )[0]


def goal_for(patient, world):
    from tandem.planning.models import Goal

    user = world.users["practitioner"]
    return Goal.objects.get_or_create(patient=patient, defaults={
        "organisation": patient.organisation, "card": "housing", "statement": "A flat",
        "proposed_by": "both", "gas_minus2": "a", "gas_minus1": "b", "gas_0": "c",
        "gas_plus1": "d", "gas_plus2": "e", "created_by": user, "updated_by": user})[0]


def plan_for(patient, world):
    """A plan with one version, one action and one proposal."""
    import datetime

    from tandem.planning.care_plan import snapshot
    from tandem.planning.models import CarePlan, PlanAction, PlanProposal, PlanVersion, Review

    user = world.users["practitioner"]
    plan, created = CarePlan.objects.get_or_create(patient=patient, defaults={
        "organisation": patient.organisation, "updated_by": user,
        "review_date": datetime.date.today() + datetime.timedelta(days=60)})
    if created:
        PlanAction.objects.create(organisation=patient.organisation, plan=plan,
                                  intervention="housing-support", description="Referral",
                                  updated_by=user)
        PlanVersion.objects.create(plan=plan, number=1, snapshot=snapshot(plan), created_by=user)
        PlanProposal.objects.create(plan=plan, text="More evening sessions",
                                    created_by=world.users["patient"])
        Review.objects.create(organisation=patient.organisation, plan=plan, created_by=user,
                              next_review=plan.review_date, t_score_patient=50)
    return plan


def session_for(patient, world):
    from tandem.planning.models import SortSession

    return SortSession.objects.get_or_create(
        patient=patient, defaults={"organisation": patient.organisation,
                                   "started_by": world.users["practitioner"]})[0]

def feedback_for(patient, world):
    from tandem.feedback.models import FeedbackReport

    return FeedbackReport.objects.get_or_create(patient=patient, defaults={
        "organisation": patient.organisation, "updated_by": world.users["patient"]})[0]



def checkup_for(patient, world):
    from tandem.assessment import checkups
    from tandem.audit.actor import Actor

    found = checkups.open_checkup(patient)
    return found or checkups.begin(Actor(user=world.users["patient"]), patient)


def reminder_choices(patient):
    from tandem.reminders.models import Preferences

    return Preferences.objects.get_or_create(
        patient=patient, defaults={"organisation_id": patient.organisation_id})[0]


def appointment_for(patient, world):
    import datetime

    from django.utils import timezone

    from tandem.reminders.models import Appointment

    return Appointment.objects.create(
        organisation_id=patient.organisation_id, patient=patient,
        starts_at=timezone.now() + datetime.timedelta(days=2), place="the centre",
        with_user=world.users["practitioner"], created_by=world.users["practitioner"])


def medication_for(patient, world, *, waiting=False, reducing=False):
    """A self-setting methadone plan for the patient, with a request waiting for the
    prescriber or a reduction going ahead."""
    import datetime
    from decimal import Decimal

    from tandem.audit.actor import Actor
    from tandem.medication import doses

    actor = Actor(user=world.users["prescriber"])
    plan = doses.start_plan(actor, patient.episodes.first(), "methadone", doses.Terms(
        low=Decimal(20), high=Decimal(90), step_up_max=Decimal(10), step_down_max=Decimal(10),
        min_days_between=3, max_rise_7_days=Decimal(20), self_setting=True,
        review_date=datetime.date.today() + datetime.timedelta(days=60)), Decimal(30),
        datetime.date.today() - datetime.timedelta(days=30), "Start")
    if waiting:
        return doses.request_dose(Actor(user=world.users["patient"]), plan, Decimal(35),
                                  datetime.date.today())
    if reducing:
        return doses.plan_reduction(actor, plan, datetime.date.today(), Decimal(5), 14,
                                    Decimal(20), "patient")
    return plan


def api_medication_for(patient, world):
    """For the medication API's URLs: a self-setting methadone plan for the patient, and
    a dose asked for by the keyworker, waiting for the prescriber."""
    import datetime
    from decimal import Decimal

    from tandem.audit.actor import Actor
    from tandem.medication import doses

    today = datetime.date.today()
    plan = doses.start_plan(
        Actor(user=world.users["prescriber"]), patient.episodes.first(), "methadone",
        doses.Terms(low=Decimal(20), high=Decimal(90), step_up_max=Decimal(10),
                    step_down_max=Decimal(10), min_days_between=3,
                    max_rise_7_days=Decimal(20), self_setting=True,
                    review_date=today + datetime.timedelta(days=60)),
        Decimal(30), today - datetime.timedelta(days=30), "Starting treatment")
    asked = doses.request_dose(Actor(user=world.users["practitioner"]), plan, Decimal(35),
                               today, on_behalf=True)
    return plan, asked


def url_for(world, name):
    from django.urls import reverse

    p1 = world.p1
    episode = p1.episodes.first()
    member = p1.care_team.members.first()
    response = draft_for(p1) if "checkup-" in name or "response-" in name else None
    checkup = checkup_for(p1, world) if name.startswith("portal:checkup-") else None
    session = session_for(p1, world) if "sort" in name else None
    plan = plan_for(p1, world) if any(w in name for w in ("plan", "action", "proposal",
                                                           "review")) else None
    flag = flag_for(p1) if "flag" in name else None
    kwargs = {
        "patients:flags": {"patient_id": p1.pk},
        "patients:flag": {"patient_id": p1.pk, "flag_id": getattr(flag, "pk", 0)},
        "patients:contact-new": {"patient_id": p1.pk},
        "patients:re-engage": {"patient_id": p1.pk},
        "patients:timeline": {"patient_id": p1.pk},
        "patients:messages": {"patient_id": p1.pk},
        "patients:messages-choices": {"patient_id": p1.pk},
        "patients:appointment-new": {"patient_id": p1.pk},
        "patients:appointment-cancel": {"patient_id": p1.pk, "appointment_id": (
            appointment_for(p1, world).pk if name == "patients:appointment-cancel"
            else "00000000-0000-0000-0000-000000000000")},
        API + "patient-flags": {"patient_id": p1.pk},
        API + "flag-acknowledge": {"patient_id": p1.pk, "flag_id": getattr(flag, "pk", 0)},
        API + "flag-resolve": {"patient_id": p1.pk, "flag_id": getattr(flag, "pk", 0)},
        API + "timeline": {"patient_id": p1.pk},
        API + "medication-plan-list": {"patient_id": p1.pk},
        API + "medication-plan-detail": {
            "patient_id": p1.pk, "plan_id": api_medication_for(p1, world)[0].pk
            if name.endswith("medication-plan-detail") else 0},
        API + "dose-request-list": {"patient_id": p1.pk},
        API + "dose-request-approve": {"patient_id": p1.pk},
        API + "dose-request-decline": {"patient_id": p1.pk},
        API + "medication-review-list": {"patient_id": p1.pk},
        API + "dispensing-list": {"patient_id": p1.pk},
        "patients:plan": {"patient_id": p1.pk},
        "patients:plan-edit": {"patient_id": p1.pk},
        "patients:plan-sign": {"patient_id": p1.pk},
        "patients:review-new": {"patient_id": p1.pk},
        "patients:review": {"patient_id": p1.pk,
                            "review_id": plan.reviews.first().pk if plan else 0},
        "patients:plan-difference": {"patient_id": p1.pk},
        "patients:plan-print": {"patient_id": p1.pk},
        "patients:plan-pdf": {"patient_id": p1.pk},
        "patients:action-new": {"patient_id": p1.pk},
        "patients:action-edit": {"patient_id": p1.pk,
                                 "action_id": plan.actions.first().pk if plan else 0},
        "patients:proposal-respond": {"patient_id": p1.pk,
                                      "proposal_id": plan.proposals.first().pk if plan else 0},
        "patients:goals": {"patient_id": p1.pk},
        "patients:goal-new": {"patient_id": p1.pk},
        "patients:goal-edit": {"patient_id": p1.pk, "goal_id": goal_for(p1, world).pk
                               if name == "patients:goal-edit" else 0},
        "patients:priorities": {"patient_id": p1.pk},
        "patients:priorities-new": {"patient_id": p1.pk},
        "patients:sort-session": {"patient_id": p1.pk, "session_id": getattr(session, "pk", 0)},
        "patients:sort": {"patient_id": p1.pk, "session_id": getattr(session, "pk", 0),
                          "voice": "practitioner"},
        "patients:sort-discussion": {"patient_id": p1.pk,
                                     "session_id": getattr(session, "pk", 0)},
        "patients:feedback": {"patient_id": p1.pk},
        "portal:feedback-stop-sharing": {"report_id": feedback_for(p1, world).pk
                                         if name == "portal:feedback-stop-sharing" else 0},
        "portal:sort": {"session_id": getattr(session, "pk", 0)},
        "portal:medication-withdraw": {"request_id": medication_for(p1, world, waiting=True).pk
                                       if name == "portal:medication-withdraw" else 0},
        "portal:medication-pause": {"reduction_id": medication_for(p1, world, reducing=True).pk
                                    if name == "portal:medication-pause" else 0},
        "patients:medication-request": {"patient_id": p1.pk},
        "patients:medication": {"patient_id": p1.pk},
        "patients:dispensing": {"patient_id": p1.pk},
        "patients:medication-new": {"patient_id": p1.pk},
        "patients:medication-edit": {"patient_id": medication_for(p1, world).patient_id
                                     if name == "patients:medication-edit" else p1.pk},
        "patients:medication-stop": {"patient_id": medication_for(p1, world).patient_id
                                     if name == "patients:medication-stop" else p1.pk},
        "patients:medication-request-answer": {
            "patient_id": p1.pk, "request_id": medication_for(p1, world, waiting=True).pk
            if name == "patients:medication-request-answer" else 0},
        "patients:medication-review-new": {
            "patient_id": medication_for(p1, world).patient_id
            if name == "patients:medication-review-new" else p1.pk},
        "patients:medication-reduction-new": {
            "patient_id": medication_for(p1, world).patient_id
            if name == "patients:medication-reduction-new" else p1.pk},
        "patients:medication-reduction": {
            "patient_id": p1.pk, "reduction_id": medication_for(p1, world, reducing=True).pk
            if name == "patients:medication-reduction" else 0},
        "patients:medication-notice": {
            "patient_id": p1.pk, "change_id": medication_for(p1, world).doses.first().pk
            if name == "patients:medication-notice" else 0},
        API + "sort-list": {"patient_id": p1.pk},
        API + "goal-list": {"patient_id": p1.pk},
        API + "goal-detail": {"patient_id": p1.pk, "goal_id": goal_for(p1, world).pk
                              if name.endswith("goal-detail") else 0},
        API + "plan": {"patient_id": p1.pk},
        API + "plan-sign": {"patient_id": p1.pk},
        API + "review-list": {"patient_id": p1.pk},
        API + "sort-detail": {"patient_id": p1.pk, "session_id": getattr(session, "pk", 0),
                              "voice": "practitioner"},
        API + "sort-comparison": {"patient_id": p1.pk, "session_id": getattr(session, "pk", 0)},
        "patients:checkups": {"patient_id": p1.pk},
        "patients:checkup-new": {"patient_id": p1.pk},
        "patients:checkup-schedule": {"patient_id": p1.pk},
        "patients:portal-access": {"patient_id": p1.pk},
        "patients:portal-letter": {"patient_id": p1.pk},
        "join:link": {"token": "not-a-token"},
        "stop": {"token": reminder_choices(p1).stop_token if name == "stop" else ""},
        "appointment": {"token": appointment_for(p1, world).token
                        if name == "appointment" else ""},
        "join:reset-link": {"uidb64": "MQ", "token": "not-a-token"},
        "patients:checkup-detail": {"patient_id": p1.pk, "response_id": getattr(response, "pk", 0)},
        "patients:checkup-entry": {"patient_id": p1.pk, "response_id": getattr(response, "pk", 0)},
        "portal:checkup-step": {"checkup_id": checkup.pk if checkup else 0, "number": 1},
        "portal:checkup-step-help": {"checkup_id": checkup.pk if checkup else 0, "number": 2},
        "portal:checkup-answers": {"checkup_id": checkup.pk if checkup else 0},
        "portal:checkup-finished": {"checkup_id": checkup.pk if checkup else 0},
        "patients:detail": {"patient_id": p1.pk},
        "patients:edit": {"patient_id": p1.pk},
        "patients:episode-new": {"patient_id": p1.pk},
        "patients:episode-edit": {"patient_id": p1.pk, "episode_id": episode.pk},
        "patients:member-new": {"patient_id": p1.pk},
        "patients:member-end": {"patient_id": p1.pk, "member_id": member.pk},
        "manage:user-edit": {"user_id": world.users["practitioner"].pk},
        "manage:user-password-reset": {"user_id": world.users["practitioner"].pk},
        "manage:password-set": {"uidb64": "MQ", "token": "not-a-token"},
        "manage:team-edit": {"team_id": world.team_a.pk},
        "manage:message-template": {"kind": "checkup-soon"},
        "reports:patients": {"key": "medication-review-overdue"},
        "reports:export": {"fmt": "csv"},
        API + "patient-detail": {"patient_id": p1.pk},
        API + "episode-list": {"patient_id": p1.pk},
        API + "episode-detail": {"patient_id": p1.pk, "episode_id": episode.pk},
        API + "care-team": {"patient_id": p1.pk},
        API + "care-team-members": {"patient_id": p1.pk},
        API + "instrument-detail": {"code": "phq9"},
        API + "instrument-score": {"code": "phq9"},
        API + "response-list": {"patient_id": p1.pk},
        API + "response-detail": {"patient_id": p1.pk, "response_id": getattr(response, "pk", 0)},
        API + "response-submit": {"patient_id": p1.pk, "response_id": getattr(response, "pk", 0)},
        API + "scores": {"patient_id": p1.pk},
    }.get(name, {})
    return reverse(name, kwargs=kwargs)


def allowed(response) -> bool:
    if response.status_code in (401, 403, 404, 405):
        return False
    if response.status_code == 302:
        # A refusal sends the visitor to sign in, naming where they were going.
        return not response["Location"].startswith("/accounts/login/?next=")
    assert response.status_code < 500, response.content[:500]
    return True


@pytest.mark.parametrize(("name", "method"), sorted(EXPECTED))
def test_allowed_roles_exactly(world, name, method):
    url = url_for(world, name)
    got = set()
    for role in ROLES:
        client = world.client(role)
        if method == "GET":
            response = client.get(url)
        elif name.startswith(API):
            response = client.generic(method, url, "{}", content_type="application/json")
        else:
            response = client.post(url, {})
        if allowed(response):
            got.add(role)
    assert got == EXPECTED[(name, method)]


def test_cross_organisation_access_is_impossible(world):
    """A practitioner of another service cannot reach p1 by any patient URL, even by id."""
    client = world.client("other_org")
    for url in [f"/patients/{world.p1.pk}/", f"/api/v1/patients/{world.p1.pk}",
                f"/api/v1/patients/{world.p1.pk}/episodes"]:
        assert client.get(url).status_code == 404
    names = [p["service_id"] for p in client.get("/api/v1/patients").json()["items"]]
    assert names == ["O-001"]
    admin = world.client("service_admin")
    assert admin.get(f"/manage/users/{world.users['other_org'].pk}/").status_code == 404


def test_practitioner_list_shows_only_their_care_team_patients(world):
    items = world.client("practitioner").get("/api/v1/patients").json()["items"]
    assert [p["service_id"] for p in items] == ["T-001"]
    items = world.client("team_lead").get("/api/v1/patients").json()["items"]
    assert sorted(p["service_id"] for p in items) == ["T-001", "T-002"]


def test_ended_care_team_membership_ends_access(world):
    import datetime

    member = world.p1.care_team.members.get(user=world.users["practitioner"])
    member.end_date = datetime.date.today() - datetime.timedelta(days=1)
    member.save()
    assert world.client("practitioner").get(f"/patients/{world.p1.pk}/").status_code == 404


def test_deactivated_user_is_refused(world):
    user = world.users["practitioner"]
    client = world.client("practitioner")
    user.is_active = False
    user.save()
    assert not allowed(client.get("/patients/"))


def test_a_user_without_any_role_can_sign_out_but_see_nothing(world):
    from tests.conftest import make_user

    client = world.client("anonymous")
    client.force_login(make_user(world.org, "nobody"))
    home = client.get("/")
    assert home.status_code == 403 and b"Your account has no role in Tandem" in home.content
    assert client.get("/patients/").status_code == 403
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and "_auth_user_id" not in client.session
