"""What an audit event is about, in words: the values of AuditEvent.object_type.

One vocabulary for three kinds of event:

- a page or API endpoint that shows part of one patient's record (its part is declared next
  to the permission rules: web.permissions.RECORD_PARTS);
- a list that showed a patient among others (web.permissions.LISTS);
- a record that was created or changed (the model's name, e.g. "planversion").

Each value has the words an auditor reads and the words a patient reads in "Who has looked at
my record". A value missing here is shown as it is stored (auditors) or as "your record"
(patients); tests/test_audit_parts.py checks every value Tandem writes is here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    staff: str  # for auditors
    patient: str  # for the patient, in the second person


WORDS: dict[str, Words] = {
    # Parts of one patient's record that a page or endpoint shows.
    "summary": Words("record summary", "the front page of your record"),
    "details": Words("personal details", "your personal details"),
    "episodes": Words("episodes of care", "your treatment episodes"),
    "episode": Words("one episode of care", "one of your treatment episodes"),
    "care-team": Words("care team", "your care team"),
    "flags": Words("flags (early warnings)", "your flags list"),
    "flag": Words("one flag", "one of your flags"),
    "contacts": Words("contacts", "your contacts with the service"),
    "re-engagement": Words("re-engagement", "your return to treatment"),
    "timeline": Words("timeline", "your timeline"),
    "messages": Words("messages sent and appointments", "the messages we sent you"),
    "message-choices": Words("choices for messages", "your choices for messages"),
    "preferences": Words("choices for messages", "your choices for messages"),
    "appointments": Words("appointments", "your appointments"),
    "letters": Words("letters to post", "a letter we posted you"),
    "appointment": Words("one appointment", "one of your appointments"),
    "plan": Words("care plan", "your plan"),
    "plan-print": Words("printable care plan", "your plan, to print or download"),
    "feedback-report": Words("feedback report (as shared by the patient)", "your feedback report"),
    "plan-action": Words("care-plan action", "an action in your plan"),
    "plan-proposal": Words("proposed plan change", "a change you asked for in your plan"),
    "reviews": Words("plan reviews", "your plan reviews"),
    "review": Words("one plan review", "one of your plan reviews"),
    "goals": Words("goals", "your goals"),
    "goal": Words("one goal", "one of your goals"),
    "priorities": Words("priorities", "your priorities"),
    "priority-sort": Words("one priority sort", "one of your priority sorts"),
    "checkups": Words("check-ups", "your check-ups"),
    "checkup": Words("one check-up", "one of your check-ups"),
    "checkup-schedule": Words("check-up schedule", "your check-up schedule"),
    "scores": Words("check-up scores", "your check-up scores"),
    "progress": Words("progress charts", "your progress charts"),
    "portal-access": Words("portal access (invitations, sign-in)",
                           "your access to your online account"),
    "portal-letter": Words("portal invitation letter", "your invitation letter"),
    "access-log": Words("who looked at the record (access log)",
                        "the list of who looked at your record"),
    "medication-plans": Words("medication plans", "your medication plans"),
    "medication-plan": Words("one medication plan", "one of your medication plans"),
    "dose-requests": Words("dose requests", "the doses you asked for"),
    "dispensing": Words("dispensing (what the pharmacy reported)",
                        "what your pharmacy reported"),
    "medication": Words("medication plan (as the patient sees it)", "your medication"),
    "dose-request": Words("dose request", "a dose you asked for"),
    "medication-reduction": Words("medication reduction", "your medication reduction"),
    "medication-record": Words("medication plan, dose history, requests and reviews",
                               "your medication plan and its history"),
    "medication-plan-terms": Words("medication plan terms (set by the prescriber)",
                                   "your medication plan"),
    "medication-reviews": Words("medication reviews", "your medication reviews"),
    "dose-change-notice": Words("dose-change sheet for the pharmacy",
                                "the dose-change sheet for your pharmacy"),
    # Lists that showed the patient among others.
    "caseload": Words("caseload list (who needs me today)", "their list of patients"),
    "patient-list": Words("patient list", "a list of patients"),
    "patient-search": Words("patient search", "a search for patients"),
    "flag-list": Words("list of flags", "a list of flags"),
    "medication-list": Words("list of patients on medication",
                             "their list of patients on medication"),
    "report-patients": Words("list of patients behind a service-report figure",
                             "a list of patients behind one of the service's figures"),
    # Records created or changed (the model's name).
    "patient": Words("patient details", "your personal details"),
    "careteam": Words("care team", "your care team"),
    "careteammember": Words("care-team member", "your care team"),
    "sortsession": Words("priority sort", "your priorities"),
    "prioritysort": Words("priority sort", "your priorities"),
    "careplan": Words("care plan", "your plan"),
    "planversion": Words("care-plan version", "your plan"),
    "planaction": Words("care-plan action", "an action in your plan"),
    "planproposal": Words("proposed plan change", "a change you asked for in your plan"),
    "feedbackreport": Words("feedback report", "your feedback report"),
    "response": Words("check-up", "one of your check-ups"),
    "checkupschedule": Words("check-up schedule", "your check-up schedule"),
    "contact": Words("contact", "your contacts with the service"),
    "invitation": Words("portal invitation", "an invitation to your online account"),
    "message": Words("message to the patient", "a message to you"),
    "dispensingday": Words("pharmacy report of a day", "what your pharmacy reported"),
    "dispensing-import": Words("pharmacy reports imported from a file",
                               "what pharmacies reported"),
    "doserequest": Words("dose request", "a dose you asked for"),
    "reduction": Words("medication reduction", "your medication reduction"),
    "medicationplan": Words("medication plan", "your medication plan"),
    "medicationreview": Words("medication review", "one of your medication reviews"),
    "medicationsettings": Words("medication settings", "a service setting"),
    # Not about one patient.
    "user": Words("user account", "an account"),
    "rulesetting": Words("early-warning rule setting", "a service setting"),
    "checkupsettings": Words("check-up settings", "a service setting"),
    "audit-trail": Words("audit trail", "the audit trail"),
    "service-report": Words("service report (figures, small numbers suppressed)",
                            "the service's report"),
}

# The kinds of value above, for tests and for the auditor's filter.
LIST_PARTS = ("caseload", "patient-list", "patient-search", "flag-list")


def staff_words(object_type: str) -> str:
    words = WORDS.get(object_type)
    return words.staff if words else object_type


def patient_words(object_type: str) -> str:
    words = WORDS.get(object_type)
    return words.patient if words else "your record"


def choices() -> list[tuple[str, str]]:
    """(value, auditor's words) for every value, sorted by the words."""
    return sorted(((code, w.staff) for code, w in WORDS.items()), key=lambda c: c[1])
