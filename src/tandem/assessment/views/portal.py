"""The patient's check-ups in the portal: one question per screen, saved as they go, so they can
stop and carry on later on any device. The permission layer put their record on request.patient.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from tandem.assessment import registry, responses
from tandem.assessment.forms import AnswersForm, posted
from tandem.assessment.models import Mode, Response, ResponseStatus
from tandem.assessment.results import crisis_contacts, due_context, history_rows, results_for
from tandem.audit.actor import Actor
from tandem.core.instruments import Instrument, Item
from tandem.core.scoring import answer_text, declined_safety, inconsistent


def pages(instrument: Instrument) -> list[list[Item]]:
    """Screens of the check-up: one question each; items sharing a section (e.g. the days used
    in each of four weeks, and the typical amount, for one substance) make one question."""
    screens: list[list[Item]] = []
    for item in instrument.items:
        if screens and item.section and screens[-1][0].section == item.section:
            screens[-1].append(item)
        else:
            screens.append([item])
    return screens


def _draft(request, response_id) -> tuple[Response, Instrument]:
    response = get_object_or_404(Response, pk=response_id, patient=request.patient)
    instrument = registry.get(request.patient.organisation, response.instrument_code)
    if instrument is None:
        raise Http404("This questionnaire is no longer in use.")
    return response, instrument


def checkups(request):
    patient = request.patient
    return render(request, "assessment/portal_list.html", {
        "patient": patient,
        **due_context(patient),
        "history": history_rows(patient, limit=20),
    })


def progress(request):
    """The patient's own charts: the same figures their care team sees."""
    return render(request, "assessment/portal_progress.html", {
        "patient": request.patient, "results": results_for(request.patient), "portal": True,
    })


@require_POST
def start(request, code):
    instrument = registry.get(request.patient.organisation, code)
    if instrument is None:
        raise Http404("No such questionnaire.")
    response = responses.start(Actor.of(request), request.patient, instrument, mode=Mode.SELF)
    return redirect("portal:checkup-question", response_id=response.pk,
                    number=min(response.position, len(pages(instrument)) - 1) + 1)


def question(request, response_id, number):
    response, instrument = _draft(request, response_id)
    if not response.is_draft:
        return redirect("portal:checkup-done", response_id=response.pk)
    screens = pages(instrument)
    if not 1 <= number <= len(screens):
        raise Http404("No such question.")
    items = screens[number - 1]
    form = AnswersForm(posted(request), instrument=instrument, items=items,
                       answers=response.answers)
    if request.method == "POST":
        action = request.POST.get("action", "next")
        form.is_valid()
        raw = form.answers()
        if action == "next":
            for item in items:
                name = f"item_{item.id}"
                if item.required and not raw.get(item.id, "").strip() and name not in form.errors:
                    form.add_error(name, "Answer this question, or choose "
                                   "“Save and finish later”.")
        if not form.errors:
            try:
                flags = responses.save_answers(Actor.of(request), response, instrument, raw,
                                              position=number - 1)
            except responses.AnswersInvalid as exc:
                form.add_item_errors(exc.errors)
            else:
                if any(f.severity == "urgent" for f in flags):  # crisis contacts at once
                    return redirect("portal:checkup-help", response_id=response.pk,
                                    number=min(number + 1, len(screens) + 1))
                if action == "later":
                    messages.success(request, "Saved. You can carry on where you left off, "
                                     "on this or any other device.")
                    return redirect("portal:checkups")
                # Saved; but an answer here that cannot be true with another is said now.
                clashes = {item: message for item, message
                           in inconsistent(instrument, response.answers).items()
                           if item in {i.id for i in items}}
                if action == "next" and clashes:
                    form.add_item_errors(clashes)
                    return _question_page(request, response, instrument, form, number, items,
                                          len(screens))
                target = number - 1 if action == "back" else number + 1
                if target < 1:
                    return redirect("portal:checkups")
                if target > len(screens):
                    return redirect("portal:checkup-review", response_id=response.pk)
                return redirect("portal:checkup-question", response_id=response.pk,
                                number=target)
    return _question_page(request, response, instrument, form, number, items, len(screens))


def _question_page(request, response, instrument, form, number, items, total):
    return render(request, "assessment/portal_question.html", {
        "response": response, "instrument": instrument, "form": form, "number": number,
        "total": total, "section": items[0].section if len(items) > 1 else "",
        "percent": round(100 * (number - 1) / total),
    })


def help_now(request, response_id, number):
    """Shown at once after an answer that needs same-day attention."""
    response, instrument = _draft(request, response_id)
    total = len(pages(instrument))
    if number > total:
        carry_on = reverse("portal:checkup-review", args=[response.pk])
    else:
        carry_on = reverse("portal:checkup-question", args=[response.pk, number])
    return render(request, "assessment/portal_help.html", {
        "response": response, "instrument": instrument,
        "contacts": crisis_contacts(request.patient.organisation),
        "carry_on": carry_on,
    })


def review(request, response_id):
    response, instrument = _draft(request, response_id)
    if not response.is_draft:
        return redirect("portal:checkup-done", response_id=response.pk)
    screens = pages(instrument)
    rows = [
        {"number": n, "item": item,
         "answer": answer_text(instrument, item.id, response.answers.get(item.id))}
        for n, screen in enumerate(screens, start=1) for item in screen
    ]
    errors = {}
    if request.method == "POST":
        try:
            responses.submit(Actor.of(request), response, instrument)
        except responses.AnswersInvalid as exc:
            errors = exc.errors
        else:
            return redirect("portal:checkup-done", response_id=response.pk)
    for row in rows:
        row["error"] = errors.get(row["item"].id, "")
    return render(request, "assessment/portal_review.html", {
        "response": response, "instrument": instrument, "rows": rows, "errors": errors,
    })


def done(request, response_id):
    response, instrument = _draft(request, response_id)
    if response.status != ResponseStatus.COMPLETED:
        return redirect("portal:checkup-review", response_id=response.pk)
    urgent = responses.safety_flags(response)
    declined = bool(declined_safety(instrument, response.answers))
    return render(request, "assessment/portal_done.html", {
        "response": response, "instrument": instrument, "urgent": urgent,
        "declined": declined,
        # After a safety answer the page says only what fits it; a profile has no score.
        "show_score": not urgent and not instrument.profile and response.headline is not None,
        "contacts": crisis_contacts(request.patient.organisation) if urgent else [],
    })
