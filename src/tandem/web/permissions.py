"""The one permission table, and the gate that applies it to every request. No rule, no access.

Every named URL's rule is declared in RULES below; the rules themselves are stated by the apps
that own what they guard (roles: `tandem.accounts.permissions`; patient records:
`tandem.patients.access`). This module sits above every app it guards, so it may name them all.

Who may see what:
- a practitioner or prescriber sees the patients whose care team they are on (active dates);
- a team lead sees their team's patients;
- a patient sees only their own record, and only through the portal;
- a service admin manages users and teams, and sees clinical records only through a care team;
- an auditor reads the audit trail and nothing clinical;
- nobody reaches another organisation's data: every lookup is scoped to the user's organisation.

`PermissionMiddleware` applies `RULES` to every request before any view runs; views and API
endpoints then use `visible_patients` for lists. tests/test_permissions.py walks every URL with
every role against the expected table, and fails for any URL without a rule.

The same middleware writes the audit trail's record of access: `RECORD_PARTS` names the part
of the record each patient URL shows (a patient URL without one is refused), `LISTS` the pages
and endpoints that list patients (each patient they showed is recorded), and every refusal of
a signed-in user is recorded too (see docs/audit.md).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass

from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import render

from tandem.accounts.permissions import (
    ADMIN,
    AUDITOR,
    AUTHENTICATED,
    CHANGES_SOME_PATIENTS,
    DRILLS_REPORT,
    INSTRUMENT_READERS,
    NOBODY,
    PUBLIC,
    READS_REPORT,
    RECORDS_DISPENSING,
    REGISTERS_PATIENTS,
    SIGNED_IN,
    STAFF_CASELOAD,
    ByMethod,
    Decision,
    Rule,
    roles_of,
)
from tandem.audit import trail
from tandem.audit.actor import Actor
from tandem.patients.access import (
    API_PATIENT,
    CHANGE_PATIENT,
    MEDICATION_TEAM,
    PORTAL,
    PRESCRIBE,
    READ_PATIENT,
    READ_PATIENT_POST_CHANGES,
    PatientRecord,
    Portal,
)

log = logging.getLogger(__name__)

API = "api-1.0.0:"

# Every named URL in Tandem, with the rule that decides it. A URL missing here is refused.
RULES: dict[str, Rule] = {
    "login": PUBLIC,
    "logout": AUTHENTICATED,
    "healthz": PUBLIC,
    "outbox:notify-receipt": PUBLIC,
    # A message's links, without signing in: the token is the key (tandem.reminders.public).
    "stop": PUBLIC,
    "appointment": PUBLIC,  # GOV.UK Notify's receipts: its bearer token is checked
    "home": AUTHENTICATED,  # routes by role; someone with no role is told so
    "patients:list": STAFF_CASELOAD,
    "patients:medication-list": STAFF_CASELOAD,  # my patients on medication (each row checked)
    "patients:new": REGISTERS_PATIENTS,
    "patients:detail": READ_PATIENT,
    "patients:edit": CHANGE_PATIENT,
    "patients:episode-new": CHANGE_PATIENT,
    "patients:episode-edit": CHANGE_PATIENT,
    "patients:member-new": CHANGE_PATIENT,
    "patients:member-end": CHANGE_PATIENT,
    "patients:flags": READ_PATIENT,
    "patients:flag": READ_PATIENT_POST_CHANGES,
    "patients:contact-new": CHANGE_PATIENT,
    "patients:re-engage": CHANGE_PATIENT,
    "patients:timeline": READ_PATIENT,
    "patients:messages": READ_PATIENT,
    # Letters waiting to be posted, of the patients this person may change (each checked).
    "patients:letters": CHANGES_SOME_PATIENTS,
    "patients:letters-pdf": CHANGES_SOME_PATIENTS,
    "patients:letters-posted": ByMethod(post=CHANGES_SOME_PATIENTS),
    "patients:messages-choices": CHANGE_PATIENT,
    "patients:appointment-new": CHANGE_PATIENT,
    "patients:appointment-cancel": CHANGE_PATIENT,
    "patients:plan": READ_PATIENT,
    "patients:plan-edit": CHANGE_PATIENT,
    "patients:plan-sign": CHANGE_PATIENT,
    "patients:review-new": CHANGE_PATIENT,
    "patients:review": READ_PATIENT,
    "patients:plan-difference": READ_PATIENT,
    "patients:plan-print": READ_PATIENT,
    "patients:plan-pdf": READ_PATIENT,
    "patients:feedback": READ_PATIENT,
    "patients:action-new": CHANGE_PATIENT,
    "patients:action-edit": CHANGE_PATIENT,
    "patients:proposal-respond": CHANGE_PATIENT,
    "patients:goals": READ_PATIENT,
    "patients:goal-new": CHANGE_PATIENT,
    "patients:goal-edit": CHANGE_PATIENT,
    "patients:priorities": READ_PATIENT,
    "patients:priorities-new": CHANGE_PATIENT,
    "patients:sort-session": READ_PATIENT,
    "patients:sort": CHANGE_PATIENT,
    "patients:sort-discussion": CHANGE_PATIENT,
    "patients:checkups": READ_PATIENT,
    "patients:checkup-detail": READ_PATIENT,
    "patients:checkup-new": CHANGE_PATIENT,
    "patients:checkup-entry": CHANGE_PATIENT,
    "patients:checkup-schedule": CHANGE_PATIENT,
    "patients:portal-access": READ_PATIENT_POST_CHANGES,  # staff: a patient's portal login
    "patients:portal-letter": CHANGE_PATIENT,  # shows the invitation's code: who may invite
    "portal:home": PORTAL,
    "portal:record-access": PORTAL,
    "portal:messages": PORTAL,
    "portal:message-choices": PORTAL,
    "portal:checkups": PORTAL,
    "portal:progress": PORTAL,
    "portal:priorities": PORTAL,
    "portal:goals": PORTAL,
    "portal:plan": PORTAL,
    "portal:plan-sign": PORTAL,
    "portal:plan-propose": PORTAL,
    "portal:plan-print": PORTAL,
    "portal:plan-pdf": PORTAL,
    "portal:feedback": PORTAL,
    "portal:feedback-pdf": PORTAL,
    "portal:feedback-stop-sharing": PORTAL,
    "portal:sort": PORTAL,
    "portal:checkup-begin": PORTAL,
    "portal:checkup-step": PORTAL,
    "portal:checkup-step-help": PORTAL,
    "portal:checkup-answers": PORTAL,
    "portal:checkup-finished": PORTAL,
    "portal:medication": PORTAL,
    "portal:medication-withdraw": PORTAL,  # the patient's own request only (404 otherwise)
    "portal:medication-pause": PORTAL,  # the patient's own reduction only (404 otherwise)
    "patients:medication-request": CHANGE_PATIENT,  # the keyworker asks for the patient
    # The care team's medication pages: all on the team read; the prescriber sets the plan,
    # answers requests, holds reviews and plans reductions; the keyworker, team lead or
    # prescriber may pause, resume, stop or go back up in a reduction.
    "patients:medication": READ_PATIENT,
    "patients:medication-new": PRESCRIBE,
    "patients:medication-edit": PRESCRIBE,
    "patients:medication-stop": PRESCRIBE,
    "patients:medication-request-answer": PRESCRIBE,
    "patients:medication-review-new": PRESCRIBE,
    "patients:medication-reduction-new": PRESCRIBE,
    "patients:medication-reduction": MEDICATION_TEAM,
    "patients:medication-notice": READ_PATIENT,  # the dose-change sheet for the pharmacy
    "manage:medication": ADMIN,  # the service's medication settings
    "manage:messages": ADMIN,  # the service's names and wording of messages
    "manage:message-template": ADMIN,
    # What the pharmacy reports: the care team reads it, the medication team records it; the
    # import takes many patients at once, each line's patient checked (visible_patients).
    "patients:dispensing": ByMethod(get=READ_PATIENT, post=MEDICATION_TEAM),
    "patients:dispensing-import": RECORDS_DISPENSING,
    "manage:users": ADMIN,
    "manage:user-new": ADMIN,
    "manage:user-edit": ADMIN,
    "manage:user-password-reset": ADMIN,
    "manage:password-set": PUBLIC,  # the emailed link's token decides
    "manage:password-set-done": PUBLIC,
    # A patient's own pages before they can sign in: the invitation, code or link decides.
    "join:start": PUBLIC,
    "join:link": PUBLIC,
    "join:confirm": PUBLIC,
    "join:forgot": PUBLIC,
    "join:reset-code": PUBLIC,
    "join:reset-link": PUBLIC,
    "join:reset-done": PUBLIC,
    "manage:teams": ADMIN,
    "manage:team-new": ADMIN,
    "manage:team-edit": ADMIN,
    "manage:checkups": ADMIN,
    "manage:instruments": ADMIN,
    "manage:crisis-contacts": ADMIN,
    "manage:life-domains": ADMIN,
    "manage:urgent-answers": ADMIN,
    "manage:flag-rules": ADMIN,
    "audit:events": AUDITOR,
    "audit:export": AUDITOR,
    # The service report: figures only (no patient) for its readers; the patients behind a
    # figure only for those who may open patients, each list narrowed to visible_patients.
    "reports:service": READS_REPORT,
    "reports:definitions": READS_REPORT,
    "reports:patients": DRILLS_REPORT,
    "reports:export": READS_REPORT,  # every export is recorded (reporting.views.export)
    "api-docs": SIGNED_IN,
    API + "api-root": NOBODY,  # django-ninja's placeholder for reversing /api/v1/
    API + "openapi-json": SIGNED_IN,
    API + "patient-list": ByMethod(get=STAFF_CASELOAD, post=REGISTERS_PATIENTS),
    API + "patient-detail": API_PATIENT,
    API + "episode-list": API_PATIENT,
    API + "episode-detail": API_PATIENT,
    API + "care-team": API_PATIENT,
    API + "care-team-members": API_PATIENT,
    API + "instrument-list": INSTRUMENT_READERS,
    API + "instrument-detail": INSTRUMENT_READERS,
    API + "instrument-score": INSTRUMENT_READERS,  # stores nothing, names no patient
    API + "response-list": API_PATIENT,
    API + "response-detail": API_PATIENT,
    API + "response-submit": API_PATIENT,
    API + "scores": API_PATIENT,
    API + "response-batch": CHANGES_SOME_PATIENTS,
    API + "sort-list": API_PATIENT,
    API + "sort-detail": API_PATIENT,
    API + "sort-comparison": API_PATIENT,
    API + "goal-list": API_PATIENT,
    API + "goal-detail": API_PATIENT,
    API + "plan": API_PATIENT,
    API + "plan-sign": API_PATIENT,
    API + "review-list": API_PATIENT,
    API + "flag-list": STAFF_CASELOAD,
    API + "patient-flags": API_PATIENT,
    API + "flag-acknowledge": API_PATIENT,
    API + "flag-resolve": API_PATIENT,
    API + "caseload": STAFF_CASELOAD,
    API + "timeline": API_PATIENT,
    # Medication: anyone on the care team reads; the prescriber sets plans, answers dose
    # requests and holds reviews; the keyworker asks for a dose for the patient; the
    # medication team records what the pharmacy reports.
    API + "medication-plan-list": ByMethod(get=READ_PATIENT, post=PRESCRIBE),
    API + "medication-plan-detail": ByMethod(get=READ_PATIENT, put=PRESCRIBE),
    API + "dose-request-list": ByMethod(get=READ_PATIENT, post=CHANGE_PATIENT),
    API + "dose-request-approve": ByMethod(post=PRESCRIBE),
    API + "dose-request-decline": ByMethod(post=PRESCRIBE),
    API + "medication-review-list": ByMethod(get=READ_PATIENT, post=PRESCRIBE),
    API + "dispensing-list": ByMethod(get=READ_PATIENT, post=MEDICATION_TEAM),
}


# What part of one patient's record each patient URL shows or changes, for the audit trail:
# every view of it is recorded with this as the event's object_type, so an auditor (and the
# patient) can tell the plan from the check-ups. The words for each value are in
# tandem.audit.parts. A URL whose rule opens a patient's record and that is missing here is
# refused, like a URL without a rule (tests/test_permissions.py checks none is missing).
RECORD_PARTS: dict[str, str] = {
    "patients:detail": "summary",
    "patients:edit": "details",
    "patients:episode-new": "episodes",
    "patients:episode-edit": "episode",
    "patients:member-new": "care-team",
    "patients:member-end": "care-team",
    "patients:flags": "flags",
    "patients:flag": "flag",
    "patients:contact-new": "contacts",
    "patients:re-engage": "re-engagement",
    "patients:timeline": "timeline",
    "patients:messages": "messages",
    "patients:messages-choices": "message-choices",
    "patients:appointment-new": "appointments",
    "patients:appointment-cancel": "appointment",
    "patients:plan": "plan",
    "patients:plan-edit": "plan",
    "patients:plan-sign": "plan",
    "patients:review-new": "reviews",
    "patients:review": "review",
    "patients:plan-difference": "plan",
    "patients:plan-print": "plan-print",
    "patients:plan-pdf": "plan-print",
    "patients:action-new": "plan-action",
    "patients:action-edit": "plan-action",
    "patients:proposal-respond": "plan-proposal",
    "patients:goals": "goals",
    "patients:goal-new": "goals",
    "patients:feedback": "feedback-report",
    "patients:goal-edit": "goal",
    "patients:priorities": "priorities",
    "patients:priorities-new": "priorities",
    "patients:sort-session": "priority-sort",
    "patients:sort": "priority-sort",
    "patients:sort-discussion": "priority-sort",
    "patients:checkups": "checkups",
    "patients:checkup-detail": "checkup",
    "patients:checkup-new": "checkups",
    "patients:checkup-entry": "checkup",
    "patients:checkup-schedule": "checkup-schedule",
    "patients:portal-access": "portal-access",
    "patients:portal-letter": "portal-letter",
    "portal:home": "summary",
    "portal:record-access": "access-log",
    "portal:messages": "messages",
    "portal:message-choices": "message-choices",
    "portal:checkups": "checkups",
    "portal:progress": "progress",
    "portal:priorities": "priorities",
    "portal:goals": "goals",
    "portal:plan": "plan",
    "portal:plan-sign": "plan",
    "portal:plan-propose": "plan-proposal",
    "portal:plan-print": "plan-print",
    "portal:plan-pdf": "plan-print",
    "portal:sort": "priority-sort",
    "portal:feedback": "feedback-report",
    "portal:feedback-pdf": "feedback-report",
    "portal:feedback-stop-sharing": "feedback-report",
    "portal:checkup-begin": "checkups",
    "portal:checkup-step": "checkup",
    "portal:checkup-step-help": "checkup",
    "portal:checkup-answers": "checkup",
    "portal:checkup-finished": "checkup",
    "portal:medication": "medication",
    "portal:medication-withdraw": "dose-request",
    "portal:medication-pause": "medication-reduction",
    "patients:medication-request": "dose-request",
    "patients:medication": "medication-record",
    "patients:medication-new": "medication-plan-terms",
    "patients:medication-edit": "medication-plan-terms",
    "patients:medication-stop": "medication-plan-terms",
    "patients:medication-request-answer": "dose-request",
    "patients:medication-review-new": "medication-reviews",
    "patients:medication-reduction-new": "medication-reduction",
    "patients:medication-reduction": "medication-reduction",
    "patients:medication-notice": "dose-change-notice",
    "patients:dispensing": "dispensing",
    API + "patient-detail": "details",
    API + "episode-list": "episodes",
    API + "episode-detail": "episode",
    API + "care-team": "care-team",
    API + "care-team-members": "care-team",
    API + "response-list": "checkups",
    API + "response-detail": "checkup",
    API + "response-submit": "checkup",
    API + "scores": "scores",
    API + "sort-list": "priorities",
    API + "sort-detail": "priority-sort",
    API + "sort-comparison": "priority-sort",
    API + "goal-list": "goals",
    API + "goal-detail": "goal",
    API + "plan": "plan",
    API + "plan-sign": "plan",
    API + "review-list": "reviews",
    API + "patient-flags": "flags",
    API + "flag-acknowledge": "flag",
    API + "flag-resolve": "flag",
    API + "timeline": "timeline",
    API + "medication-plan-list": "medication-plans",
    API + "medication-plan-detail": "medication-plan",
    API + "dose-request-list": "dose-requests",
    API + "dose-request-approve": "dose-request",
    API + "dose-request-decline": "dose-request",
    API + "medication-review-list": "medication-reviews",
    API + "dispensing-list": "dispensing",
}


@dataclass(frozen=True)
class Listing:
    """A page or endpoint listing patients: one audit event for each patient it showed.

    A web page's view names the patients it showed (`request.shown_patients`); for the API the
    middleware reads them from the JSON it sends: each item of `items` names its patient by
    `patient_key`. A request with a search term (`q`) is recorded as a patient search."""

    part: str
    items: str = ""
    patient_key: str = ""
    searched: str = "patient-search"


LISTS: dict[str, Listing] = {
    "patients:list": Listing("caseload"),
    "patients:medication-list": Listing("medication-list"),
    "patients:letters": Listing("letters"),
    "patients:letters-pdf": Listing("letters"),
    "reports:patients": Listing("report-patients"),
    API + "patient-list": Listing("patient-list", items="items", patient_key="id"),
    API + "flag-list": Listing("flag-list", items="items", patient_key="patient_id"),
    API + "caseload": Listing("caseload", items="results", patient_key="id"),
}


def opens_a_record(rule: Rule) -> bool:
    """Whether this rule opens one patient's record (so its URL must declare a part)."""
    if isinstance(rule, ByMethod):
        return any(opens_a_record(r) for r in rule.by_method.values())
    return isinstance(rule, PatientRecord | Portal)


def rule_for(view_name: str | None) -> Rule | None:
    return RULES.get(view_name or "")


API_PREFIX = "/api/"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def refusal(request, status: int):
    messages = {
        401: "Sign in to continue.",
        403: "You do not have permission to open this page.",
        404: "Not found.",
        405: "Method not allowed.",
    }
    if is_api(request):
        return JsonResponse({"detail": messages[status]}, status=status)
    return render(request, f"{status}.html", {"message": messages[status]}, status=status)


class PermissionMiddleware:
    """Apply the rule declared for the resolved URL before the view runs. Default deny.

    It also writes what the audit trail needs to know about the request: a view of part of one
    patient's record (`RECORD_PARTS`), the patients a list showed, once it has
    shown them (`LISTS`), and every refusal of a signed-in user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        listing = getattr(request, "audit_listing", None)
        if listing is not None and 200 <= response.status_code < 300:
            record_listing(request, listing, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        name = request.resolver_match.view_name if request.resolver_match else None
        rule = rule_for(name)
        if rule is None:
            log.error("No permission rule declared for URL %r; refusing.", name)
            return refuse(request, name, Decision(False))
        if rule.public:
            return None
        if not request.user.is_authenticated:
            if is_api(request):
                return refusal(request, 401)
            return redirect_to_login(request.get_full_path())
        decision = rule.decide(request, view_kwargs)
        if not decision.allowed:
            return refuse(request, name, decision)
        request.access_role = decision.role
        patient = getattr(request, "patient", None)
        part = RECORD_PARTS.get(name)
        if patient is not None and part is None:
            log.error("No record part declared for URL %r; refusing.", name)
            return refuse(request, name, Decision(False, patient=patient))
        if request.method in SAFE_METHODS:
            if patient is not None:
                trail.record_request(request, "read", patient=patient, object_type=part,
                                     object_id=item_id(view_kwargs))
            elif name in LISTS:
                request.audit_listing = LISTS[name]
        return None


def item_id(view_kwargs) -> str:
    """The one item of the record a URL names besides the patient (a check-up, a flag, a
    review...), or ""."""
    for key, value in view_kwargs.items():
        if key.endswith("_id") and key != "patient_id":
            return str(value)
    return ""


def refuse(request, name, decision):
    """Refuse, and put the refusal on the signed-in user's own organisation's audit trail:
    with the part of a record asked for and the path, and the patient only when they are of
    that organisation (a patient of another organisation is never named or looked up)."""
    user = request.user
    if user.is_authenticated and user.organisation_id:
        trail.record_request(
            request, "refused", patient=decision.patient,
            role=",".join(sorted(roles_of(user)))[:40],
            object_type=RECORD_PARTS.get(name or "", ""))
    response = refusal(request, decision.status)
    if decision.status == 405:  # RFC 9110: a 405 says which methods the URL takes
        response["Allow"] = ", ".join(getattr(rule_for(name), "by_method", ()))
    return response


def record_listing(request, listing, response) -> None:
    """One "listed" event per patient the list showed, in one bulk append; one event without a
    patient when it showed nobody (a search that found no one is still recorded)."""
    if listing.items:  # the API: the patients named in what was sent
        try:
            sent = json.loads(response.content)[listing.items]
            shown = [uuid.UUID(str(item[listing.patient_key])) for item in sent]
        except (ValueError, KeyError, TypeError) as error:
            raise RuntimeError(f"cannot read the patients a list showed: {error}") from error
    else:  # a page: its view names them
        shown = getattr(request, "shown_patients", None)
        if shown is None:
            raise RuntimeError(f"the view of {request.path} did not name the patients it showed")
    part = listing.searched if request.GET.get("q", "").strip() else listing.part
    ids = list(dict.fromkeys(shown)) or [None]
    trail.record_many(Actor.of(request), "search", [(patient_id, part, "") for patient_id in ids])
