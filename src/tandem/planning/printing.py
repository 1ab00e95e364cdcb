"""The printable plan ("My recovery plan"), as HTML and as PDF rendered from the same HTML by
WeasyPrint
(a maintained HTML-to-PDF library; it uses the system's Pango, which Debian's Chromium also
needs, so CI machines have it)."""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from tandem.planning import events


def pdf_response(request, template: str, context: dict, filename: str) -> HttpResponse:
    try:
        from weasyprint import CSS, HTML  # imported here: only this view needs it
    except (ImportError, OSError):  # no Pango on this server (README); the print view works
        return render(request, "planning/pdf_unavailable.html", status=503)

    html = render_to_string(template, context | {"for_pdf": True}, request=request)
    stylesheet = finders.find("tandem/print.css")
    document = HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf(
        stylesheets=[CSS(filename=stylesheet)])
    response = HttpResponse(document, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def printable_plan(request, plan, filename: str, pdf: bool) -> HttpResponse:
    """The latest version of the plan, to print or (with `pdf`) to download."""
    version = plan.versions.order_by("-number").first()
    context = {"patient": plan.patient, "plan": plan, "version": version,
               "goals": version.snapshot["goals"], "actions": version.snapshot["actions"]}
    # What the apps above planning add to the print (events.plan_printing).
    context["panels"] = [panel for _receiver, panel in
                         events.plan_printing.send(type(plan), patient=plan.patient) if panel]
    if pdf:
        return pdf_response(request, "planning/plan_print.html", context, filename)
    return render(request, "planning/plan_print.html", context)
