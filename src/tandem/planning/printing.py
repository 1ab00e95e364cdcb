"""The printable plan as PDF, rendered from the same HTML as the print view by WeasyPrint
(a maintained HTML-to-PDF library; it uses the system's Pango, which Debian's Chromium also
needs, so CI machines have it)."""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string


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
