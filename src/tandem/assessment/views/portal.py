"""The patient's check-ups in the portal.

One check-up: the questionnaires due together are done as one (`begin`, then numbered steps
across all of them, one review and one "done" page; assessment/checkups.py keeps it). Each
screen is saved as they go, with where they are, so they can stop and carry on later at the
same question on any device. A draft begun before the check-up existed (or by staff) is
carried into it by `begin`. The permission layer put their record on request.patient.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from tandem.assessment import checkups as flows
from tandem.assessment import responses
from tandem.assessment.forms import AnswersForm, posted
from tandem.assessment.models import Checkup
from tandem.assessment.results import crisis_contacts, due_context, history_rows, results_for
from tandem.audit.actor import Actor
from tandem.core.scoring import answer_text, declined_safety, inconsistent

LATER = "Saved. You can carry on where you left off, on this or any other device."


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


# --- One check-up: everything due now, as one ----------------------------------------------


def _checkup(request, checkup_id) -> Checkup:
    return get_object_or_404(Checkup, pk=checkup_id, patient=request.patient)


def _to(flow: flows.Flow, number: int):
    """To a step of the check-up, or past the last to the review of the answers."""
    if number > flow.total:
        return redirect("portal:checkup-answers", checkup_id=flow.checkup.pk)
    return redirect("portal:checkup-step", checkup_id=flow.checkup.pk, number=max(number, 1))


@require_POST
def begin(request):
    """Start the check-up of everything due now, or carry on the one already started."""
    checkup = flows.begin(Actor.of(request), request.patient)
    if checkup is None:
        messages.info(request, "Nothing is due just now, so there is no check-up to do. "
                      "It will be here when your next one is due.")
        return redirect("portal:checkups")
    flow = flows.flow(checkup)
    return _to(flow, flow.resume_at)


def _seen(request) -> dict | None:
    """The saved answers the page showed when it was opened (None: the page did not say)."""
    try:
        seen = json.loads(request.POST.get("seen", ""))
    except (ValueError, RecursionError):  # not what the page sent: as if it said nothing
        return None
    return seen if isinstance(seen, dict) else None


def step(request, checkup_id, number):
    checkup = _checkup(request, checkup_id)
    flow = flows.flow(checkup)
    current = flow.step(number)
    if current is None:
        if not checkup.is_open:
            return redirect("portal:checkup-finished", checkup_id=checkup.pk)
        raise Http404("No such question.")
    part = current.part
    items = current.items
    form = AnswersForm(posted(request), instrument=part.instrument, items=items,
                       answers=part.response.answers)
    if not checkup.is_open or not part.response.is_draft:
        # Sent (a tab left open): nothing sent changes, but a safety answer posted now is
        # heeded and its help shown.
        if request.method == "POST" and _urgent(
                flows.heed_safety(Actor.of(request), flow, current, form.answers())):
            return redirect("portal:checkup-step-help", checkup_id=checkup.pk,
                            number=number + 1)
        if not checkup.is_open:
            return redirect("portal:checkup-finished", checkup_id=checkup.pk)
        return _to(flow, part.last + 1)  # this questionnaire was sent another way: move on
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
        actor = Actor.of(request)
        if form.errors:  # to correct; but a safety answer on the screen is heeded now
            flags = flows.heed_safety(actor, flow, current, raw)
            return _step_page(request, flow, current, form, urgent=_urgent(flags))
        target = {"back": number - 1, "later": number}.get(action, number + 1)
        try:
            flags = flows.save_step(actor, flow, current, raw, seen=_seen(request),
                                    next_position=max(target, 1))
        except flows.Closed as exc:  # sent meanwhile
            if _urgent(exc.flags):
                return redirect("portal:checkup-step-help", checkup_id=checkup.pk,
                                number=number + 1)
            return redirect("portal:checkup-step", checkup_id=checkup.pk, number=number)
        except flows.Changed as exc:
            for item in items:
                if item.id in exc.saved:
                    text = answer_text(part.instrument, item.id, exc.saved[item.id])
                    form.add_error(f"item_{item.id}", (
                        "This answer was changed in another window or on another device "
                        f"while this page was open. Saved there: “{text}”. Check your "
                        "answer here and press the button again to keep it."))
            return _step_page(request, flow, current, form, urgent=_urgent(exc.flags))
        except responses.AnswersInvalid as exc:
            form.add_item_errors(exc.errors)
            return _step_page(request, flow, current, form, urgent=_urgent(exc.flags))
        if _urgent(flags):  # crisis contacts at once
            return redirect("portal:checkup-step-help", checkup_id=checkup.pk,
                            number=number + 1)
        if action == "later":
            messages.success(request, LATER)
            return redirect("portal:home")
        # Saved; but an answer here that cannot be true with another is said now.
        on_screen = {i.id for i in items}
        clashes = {item: message for item, message
                   in inconsistent(part.instrument, part.response.answers).items()
                   if item in on_screen}
        if action != "next" or not clashes:
            return _to(flow, target)
        flows.move(checkup, number)
        form.add_item_errors(clashes)
    return _step_page(request, flow, current, form)


def _urgent(flags) -> bool:
    return any(f.severity == "urgent" for f in flags)


def _step_page(request, flow, current, form, urgent=False):
    """The screen; with `urgent`, a safety answer on it was kept and flagged while another
    answer needs correcting: the crisis contacts show above the question."""
    part = current.part
    seen = {k: flows.as_posted(v) for k, v in flows.answers_on(current).items()}
    return render(request, "assessment/portal_checkup_step.html", {
        "checkup": flow.checkup, "flow": flow, "step": current, "part": part,
        "instrument": part.instrument, "form": form, "number": current.number,
        "total": flow.total, "part_number": flow.parts.index(part) + 1,
        "part_count": len(flow.parts),
        "section": current.items[0].section if current.items[0].section else "",
        "percent": round(100 * (current.number - 1) / flow.total),
        "seen": json.dumps(seen, sort_keys=True),
        "contacts": crisis_contacts(request.patient.organisation) if urgent else [],
    })


def step_help(request, checkup_id, number):
    """Shown at once after an answer that needs same-day attention, mid check-up."""
    checkup = _checkup(request, checkup_id)
    flow = flows.flow(checkup)
    if not checkup.is_open:
        carry_on = reverse("portal:checkup-finished", args=[checkup.pk])
    elif number > flow.total:
        carry_on = reverse("portal:checkup-answers", args=[checkup.pk])
    else:
        carry_on = reverse("portal:checkup-step", args=[checkup.pk, max(number, 1)])
    return render(request, "assessment/portal_help.html", {
        "contacts": crisis_contacts(request.patient.organisation), "carry_on": carry_on,
    })


def answers(request, checkup_id):
    """Every answer of the check-up, questionnaire by questionnaire, and one button to send."""
    checkup = _checkup(request, checkup_id)
    if not checkup.is_open:
        return redirect("portal:checkup-finished", checkup_id=checkup.pk)
    flow = flows.flow(checkup)
    errors: dict[str, dict[str, str]] = {}
    if request.method == "POST":
        try:
            flows.finish(Actor.of(request), checkup)
        except flows.Incomplete as exc:
            errors = exc.errors
        else:  # sent now, or already sent by another press: either way, done
            return redirect("portal:checkup-finished", checkup_id=checkup.pk)
    elif checkup.position <= flow.total:
        flows.move(checkup, flow.total + 1)  # come back here when carrying on
    groups = []
    for part in flow.parts:
        wrong, saved = errors.get(part.code, {}), part.response.answers
        rows = [{"number": part.first + n, "item": item,
                 "answer": answer_text(part.instrument, item.id, saved.get(item.id)),
                 "error": wrong.get(item.id, "")}
                for n, screen in enumerate(part.screens) for item in screen]
        groups.append({"part": part, "rows": rows, "sent": not part.response.is_draft})
    return render(request, "assessment/portal_checkup_answers.html", {
        "checkup": checkup, "flow": flow, "groups": groups, "errors": errors,
        "total": flow.total,
    })


def finished(request, checkup_id):
    """One "done" page for the whole check-up, in plain words."""
    checkup = _checkup(request, checkup_id)
    if checkup.is_open:
        return redirect("portal:checkup-answers", checkup_id=checkup.pk)
    flow = flows.flow(checkup)
    urgent, declined = [], False
    for part in flow.parts:
        urgent += responses.safety_flags(part.response)
        declined = declined or bool(declined_safety(part.instrument, part.response.answers))
    questions = flow.total  # counted as the progress line counts them: a screen each
    return render(request, "assessment/portal_checkup_done.html", {
        "checkup": checkup, "parts": flow.parts, "questions": questions,
        "urgent": bool(urgent), "declined": declined,
        "contacts": crisis_contacts(request.patient.organisation) if urgent else [],
    })
