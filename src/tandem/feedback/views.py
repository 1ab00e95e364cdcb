"""The feedback report's pages: the patient's own (portal), and the care team's view of the
reports the patient shares (staff). The permission layer put the patient on request.patient."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from tandem.accounts.permissions import CHANGES_RECORDS
from tandem.audit.actor import Actor
from tandem.feedback import content, services
from tandem.feedback.forms import ReportForm
from tandem.feedback.models import OWN_WORDS_MAX, FeedbackReport
from tandem.planning.printing import pdf_response
from tandem.records import versioning

SAVED = {
    services.SAVE: "Saved. Your report is not shared with your care team.",
    services.SHARE: "Shared: your care team can see this report, as it is now, before your "
                    "review. You can stop sharing it at any time.",
    services.UNSHARE: "You have stopped sharing this report. Your care team can no longer "
                      "see it.",
}
SAVED_WHILE_SHARED = "Saved. Your care team now sees the report as you saved it."


def display(report_content: dict, prefix: str = "fb") -> dict:
    """Template context for a report's content (the patient's page, the PDF, staff pages);
    `prefix` keeps the charts' ids apart where a page shows more than one report."""
    drawn = content.charts_for(report_content, prefix)
    answers = [item | {"chart": drawn.get(item["key"], "")}
               for item in report_content.get("answers") or []]
    return {"content": report_content | {"answers": answers,
                                         "going_well_list": report_content.get("going-well")},
            "parts": report_content.get("parts", content.PART_CODES), "idp": prefix}


def report(request):
    patient = request.patient
    found = services.current(patient)
    form = ReportForm(request.POST or None, instance=found)
    stale = None
    if request.method == "POST":
        action = request.POST.get("action")
        action = action if action in services.ACTIONS else services.SAVE
        if form.is_valid():
            was_shared = found.shared
            try:
                services.save(Actor.of(request), form, action)
            except versioning.Stale as refused:
                stale, found = refused, refused.current
                form = versioning.form_again(
                    request, lambda data, instance: ReportForm(data, instance=instance), refused)
            else:
                words = (SAVED_WHILE_SHARED if was_shared and action == services.SAVE
                         else SAVED[action])
                messages.success(request, words)
                return redirect("portal:feedback")
    typed = form["own_words"].value() or ""
    earlier = [r for r in services.shared(patient) if r.pk != found.pk]
    return render(request, "feedback/report.html", {
        "patient": patient, "report": found, "form": form, "stale": stale, "earlier": earlier,
        "words_used": len(typed), "words_max": OWN_WORDS_MAX,
        **display(services.page_content(found)),
    })


@require_POST
def stop_sharing(request, report_id):
    """Stop sharing an earlier report (one from before the latest check-up or review)."""
    found = get_object_or_404(FeedbackReport, pk=report_id, patient=request.patient)
    services.stop_sharing(Actor.of(request), found)
    made_on = timezone.localdate(found.created_at)  # the patient's day, not UTC's
    messages.success(request, f"You have stopped sharing your report of "
                     f"{content.day_text(made_on)}. Your care team can no longer see it.")
    return redirect("portal:feedback")


def report_pdf(request):
    found = services.current(request.patient)
    context = {"patient": request.patient, "report": found,
               **display(services.page_content(found))}
    response = pdf_response(request, "feedback/print.html", context, "my-feedback-report.pdf")
    if response.status_code == 503:  # this server cannot make PDFs: say so in this page's words
        return render(request, "feedback/pdf_unavailable.html", status=503)
    return response


def staff(request, patient_id):
    """The reports the patient is sharing with the care team, each beside their own words."""
    patient = request.patient
    reports = [(r, display(services.as_shared(r), f"fb{n}"))
               for n, r in enumerate(services.shared(patient))]
    return render(request, "feedback/staff.html", {
        "patient": patient, "reports": reports,
        "can_change": request.access_role in CHANGES_RECORDS})


def review_panel(sender, patient, review=None, **kwargs) -> dict:
    """Receiver of planning.events.review_opened: the shared report beside the patient's own
    words in the review (before it is held, and once held)."""
    found = services.shared_for_review(patient, review)
    return {"template": "feedback/review_panel.html", "patient": patient, "report": found,
            **(display(services.as_shared(found), "review-fb")
               if found is not None else {})}
