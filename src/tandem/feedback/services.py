"""Keeping feedback reports: which report is the patient's current one, saving what they chose
(through the one versioned save, so two tabs never silently overwrite each other), sharing and
stopping sharing (audited), and what the care team may see (shared reports only)."""

from __future__ import annotations

import datetime
import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.assessment.results import completed
from tandem.audit.actor import Actor
from tandem.audit.trail import record_by
from tandem.feedback import content
from tandem.feedback.models import FeedbackReport, Occasion
from tandem.patients.services import current_episode
from tandem.planning import care_plan
from tandem.planning.models import Review
from tandem.records import versioning

SAVE, SHARE, UNSHARE = "save", "share", "unshare"
ACTIONS = (SAVE, SHARE, UNSHARE)
# A report made this close to the plan's review date is the one "before the review".
BEFORE_REVIEW_DAYS = 14


def occasion_for(patient, today: datetime.date | None = None) -> str:
    today = today or timezone.localdate()
    plan = care_plan.current_plan(patient)
    if plan is not None and plan.review_date - today <= datetime.timedelta(
            days=BEFORE_REVIEW_DAYS):
        return Occasion.BEFORE_REVIEW
    return Occasion.AFTER_CHECKUP


def current(patient) -> FeedbackReport:
    """The report the patient is shaping now: their latest, unless a check-up has been
    completed or a review held since it was started; then a new one (not saved until the
    patient saves it), with every part chosen."""
    latest = patient.feedback_reports.order_by("-created_at").first()
    if latest is not None and not _outdated(patient, latest):
        return latest
    return FeedbackReport(organisation_id=patient.organisation_id, patient=patient,
                          episode=current_episode(patient), occasion=occasion_for(patient),
                          parts=list(content.DEFAULT_PARTS))


def _outdated(patient, report: FeedbackReport) -> bool:
    newer_checkup = completed(patient).filter(completed_at__gt=report.created_at).exists()
    newer_review = Review.objects.filter(plan__patient=patient,
                                         created_at__gt=report.created_at).exists()
    return newer_checkup or newer_review


def basis_of(patient) -> str:
    """What a new report follows: the latest check-up completed and the latest review (their
    ids). A report stays current until a newer one of either, so two first saves of the same
    new report have the same basis, and the database keeps only one of them."""
    checkup = (completed(patient).order_by("-completed_at", "-pk")
               .values_list("pk", flat=True).first())
    review = (Review.objects.of(patient.organisation_id).filter(plan__patient=patient)
              .order_by("-created_at", "-pk").values_list("pk", flat=True).first())
    return f"{checkup or '-'}/{review or '-'}"


def page_content(report: FeedbackReport) -> dict:
    """What the patient sees: while shared, exactly what is shared (without range names they
    did not choose: `without_unchosen_range_names`); otherwise the report as their data stand
    now, with the parts they chose."""
    if report.shared and report.snapshot:
        return as_shared(report)
    return frozen(report)


def as_shared(report: FeedbackReport) -> dict:
    """A shared report as the patient and the care team both see it: its snapshot, without
    range names the patient did not choose."""
    return without_unchosen_range_names(report.snapshot)


# How reports shared before a range's name was the patient's choice named it, in a sentence.
OLD_RANGE_SENTENCE = re.compile(r"\s*That is in the range called “[^”]*”\.")


def without_unchosen_range_names(snapshot: dict) -> dict:
    """A shared copy without the names of ranges unless the patient chose them: a report
    shared before that was their choice named them in its sentences until shared again."""
    if content.RANGE_NAMES in (snapshot.get("parts") or []) or not snapshot.get("answers"):
        return snapshot
    answers = [item | {"band": "", "sentences": [OLD_RANGE_SENTENCE.sub("", sentence)
                                                 for sentence in item.get("sentences", [])]}
               for item in snapshot["answers"]]
    return snapshot | {"answers": answers}


def frozen(report: FeedbackReport) -> dict:
    built = content.chosen(content.build(report.patient), report.parts)
    return built | {"parts": list(report.parts), "own_words": report.own_words,
                    "occasion": report.get_occasion_display()}


@transaction.atomic
def save(actor: Actor, form, action: str) -> FeedbackReport:
    """Save the patient's choices; with `share`, share the report with the care team as it
    now is; with `unshare`, stop sharing it. Saving while it is shared shares what was
    saved. Raises versioning.Stale (nothing written) if the report changed since the
    patient's page was opened."""
    report = form.instance
    report.parts = [code for code in content.PART_CODES if code in form.cleaned_data["parts"]]
    now = timezone.now()
    was_shared = report.shared
    if action == UNSHARE:
        report.shared_at, report.unshared_at, report.snapshot = None, now, None
    elif action == SHARE or was_shared:
        report.shared_at = report.shared_at if was_shared else now
        report.snapshot = frozen(report)
    fields = ["own_words", "parts", "shared_at", "unshared_at", "snapshot"]
    if report._state.adding:
        report.basis = basis_of(report.patient)
        try:
            saved = versioning.save(form, actor, patient=report.patient, fields=fields)
        except IntegrityError:
            # The same new report was saved a moment ago (a double submit, a second tab):
            # nothing is written and the patient is shown it, keeping what they typed. Only
            # if that report is there: another constraint refused is an error, as it is.
            current = report.patient.feedback_reports.filter(basis=report.basis).first()
            if current is None:
                raise
            raise versioning.Stale(current, versioning.differences(form, current)) from None
    else:
        saved = versioning.save(form, actor, patient=report.patient, fields=fields)
    if action == SHARE and not was_shared:
        record_by(actor, "update", patient=saved.patient, obj=saved,
                  detail="shared the feedback report with the care team")
    elif action == UNSHARE and was_shared:
        record_by(actor, "update", patient=saved.patient, obj=saved,
                  detail="stopped sharing the feedback report with the care team")
    return saved


@transaction.atomic
def stop_sharing(actor: Actor, report: FeedbackReport) -> None:
    """Stop sharing an earlier report (from its button, not the report's form): the care team
    no longer sees it. Moves its version on, so a page open on it notices."""
    if not report.shared:
        return
    report.shared_at, report.unshared_at, report.snapshot = None, timezone.now(), None
    report.updated_by, report.updated_at = actor.user, timezone.now()
    versioning.bump(report, ["shared_at", "unshared_at", "snapshot", "updated_by",
                             "updated_at"])
    record_by(actor, "update", patient=report.patient, obj=report,
              detail="stopped sharing the feedback report with the care team")


def shared(patient):
    """The reports the patient is sharing with their care team now, newest first."""
    return patient.feedback_reports.filter(shared_at__isnull=False,
                                           snapshot__isnull=False).order_by("-shared_at")


def shared_for_review(patient, review=None) -> FeedbackReport | None:
    """The report to show in a review: the latest one shared (before the review was held, for
    one already held)."""
    reports = shared(patient)
    if review is not None:
        reports = reports.filter(shared_at__lte=review.created_at)
    return reports.first()
