"""Letters: one print-ready PDF of every letter waiting to be posted, one letter a page, the
address placed for a window envelope (DL, the address window on the left), for services that
post their own. What an envelope shows is the name and address alone; the return address on
the back, if any, is the service's everyday name, never its clinical name.

Rendered with WeasyPrint from HTML (the same library as the printable plan)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone

from tandem.outbox import services as outbox


def letters_html(letters, request=None) -> str:
    pages = [{"address": m.recipient.splitlines(), "name": m.patient.name if m.patient else "",
              "date": timezone.localdate(), "subject": m.subject,
              "body": outbox.readable(m.body)} for m in letters]
    return render_to_string("reminders/letters.html", {"pages": pages}, request=request)


def letters_pdf(letters) -> bytes:
    from weasyprint import HTML  # only here: it needs Pango, which a server may lack

    return HTML(string=letters_html(letters)).write_pdf()
