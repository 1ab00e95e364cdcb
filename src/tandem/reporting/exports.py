"""The service report as it leaves the service: CSV, spreadsheet (XLSX) and PDF.

Every figure goes out through core/suppression.py (NHS Digital's small-number rule): a count of
1 to 7 as "*", other counts to the nearest 5, means and medians of fewer than 8 people as "*",
percentages from the rounded counts. Nothing exact leaves by any of the three.

Each file opens with what it is: the service, the period and the one it is compared with, the
filters, when it was worked out, and a line on the suppression; then one row per figure
(section, figure, measure, who is counted, which dates, this period, the previous period,
source).

Formula injection (OWASP ASVS 5.0, requirement 1.2.10): a spreadsheet treats a cell starting
with = + - @ (or a tab, carriage return or null) as a formula, and text such as a team's name
comes from people. Every text cell that starts with one of those and is not a plain number
("-2.5") gets a leading apostrophe, which spreadsheets take as "this is text", in the CSV and in
the spreadsheet alike (where it is also written as a text cell, never a formula), so a file
saved on from either stays safe.

The spreadsheet is written with XlsxWriter (maintained, writes only, no dependencies of its own).
The PDF is drawn by WeasyPrint from reporting/print.html; when WeasyPrint cannot load (no Pango
on the server) `to_pdf` raises PdfUnavailable for the view to say so, as the care plan's PDF does.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import xlsxwriter
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone

from tandem.accounts.models import Organisation, Team, User
from tandem.core.report import Definition, Kind
from tandem.core.suppression import EXPLANATION, SOURCE, SUPPRESSED, shown, shown_number
from tandem.reporting.report import Report
from tandem.reporting.scope import SETTINGS, SUBSTANCES

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?%?")
COLUMNS = ["Section", "Figure", "Measure", "Who is counted", "Which dates", "This period",
           "Previous period", "Source"]


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot load here (it needs the system's Pango)."""


def neutralise(text: str) -> str:
    """`text` made safe for a spreadsheet cell: a leading apostrophe when it would otherwise be
    read as a formula. Plain numbers ("-2.5", "38%") are left alone."""
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def filename(report: Report, extension: str) -> str:
    """tandem-service-report-2026-01-01-to-2026-12-31.csv"""
    period = report.scope.period
    return f"tandem-service-report-{period.start:%Y-%m-%d}-to-{period.end:%Y-%m-%d}.{extension}"


def measure(definition: Definition) -> str:
    """What kind of number a figure is, in words: "Number", "Percentage", "Median (days)"."""
    words = {Kind.COUNT: "Number", Kind.SHARE: "Percentage", Kind.MEAN: "Mean",
             Kind.MEDIAN: "Median"}[definition.kind]
    return f"{words} ({definition.unit})" if definition.unit else words


def _filters(report: Report) -> str:
    scope = report.scope
    if scope.teams is None:
        teams = "every team"
    else:
        names = list(Team.objects.of(scope.organisation_id).filter(pk__in=scope.teams)
                     .values_list("name", flat=True))
        teams = ("team " if len(names) == 1 else "teams ") + ", ".join(names) if names \
            else "no team"
    keyworker = "any keyworker"
    if scope.keyworker is not None:
        user = User.objects.filter(pk=scope.keyworker,
                                   organisation_id=scope.organisation_id).first()
        keyworker = f"keyworker {user.display_name if user else 'not found'}"
    setting = f"setting {SETTINGS.get(scope.setting, scope.setting)}" if scope.setting \
        else "any setting"
    substance = (f"substance group {SUBSTANCES.get(scope.substance, scope.substance)}"
                 if scope.substance else "any substance group")
    return "; ".join([teams, keyworker, setting, substance])


def about(report: Report) -> list[tuple[str, str]]:
    """The lines that say what the file is, as (heading, text)."""
    scope = report.scope
    service = Organisation.objects.filter(pk=scope.organisation_id).values_list(
        "name", flat=True).first() or ""
    worked_out = timezone.localtime(report.computed_at)
    return [
        ("Service", service),
        ("Period", str(scope.period)),
        ("Compared with", f"{scope.period.previous()}, the period of the same length before"),
        ("Filters", _filters(report)),
        ("Worked out", f"{worked_out:%-d %B %Y at %H:%M}"),
        ("Small numbers", EXPLANATION),
    ]


@dataclass(frozen=True)
class Line:
    """One figure as it leaves the service."""

    section: str
    definition: Definition
    now: int | float | str | None  # shown_number: the number, "*", or None (nobody)
    before: int | float | str | None
    now_text: str  # shown: "15", "38%", "-2.5", "*", ""
    before_text: str

    @property
    def measure(self) -> str:
        return measure(self.definition)


def lines(report: Report) -> list[Line]:
    """Every figure of the report, suppressed, in page order."""
    out = []
    for _key, heading, rows in report.sections():
        for row in rows:
            kind = row.definition.kind
            out.append(Line(heading, row.definition, shown_number(kind, row.now),
                            shown_number(kind, row.before), shown(kind, row.now),
                            shown(kind, row.before)))
    return out


def _period_columns(report: Report) -> list[str]:
    period = report.scope.period
    return COLUMNS[:5] + [f"This period ({period})", f"Previous period ({period.previous()})",
                          COLUMNS[7]]


# CSV -------------------------------------------------------------------------------------------

def to_csv(report: Report) -> bytes:
    """The report as CSV, UTF-8 with a byte order mark so that Excel reads it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Tandem service report"])
    for heading, text in about(report):
        writer.writerow([neutralise(heading), neutralise(text)])
    writer.writerow([])
    writer.writerow(_period_columns(report))
    for line in lines(report):
        d = line.definition
        writer.writerow([neutralise(cell) for cell in (
            line.section, d.label, line.measure, d.who, d.dates, line.now_text, line.before_text,
            d.source)])
    return buffer.getvalue().encode("utf-8-sig")


# XLSX ------------------------------------------------------------------------------------------

def to_xlsx(report: Report) -> bytes:
    """The report as a spreadsheet: the figures, numbers as numbers where they are shown, and a
    "How this is worked out" sheet with every definition."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {
        "in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
        "strings_to_numbers": False})
    bold = book.add_format({"bold": True})
    plain = book.add_format({})
    title = book.add_format({"bold": True, "font_size": 14})
    head = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bottom": 1})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    formats = {
        Kind.COUNT: book.add_format({"num_format": "0", "valign": "top"}),
        Kind.SHARE: book.add_format({"num_format": "0%", "valign": "top"}),
        Kind.MEAN: book.add_format({"num_format": "0.0", "valign": "top"}),
        Kind.MEDIAN: book.add_format({"num_format": "0.0", "valign": "top"}),
    }
    hidden = book.add_format({"align": "right", "valign": "top"})

    def text(sheet, row, col, value, fmt=wrap):
        sheet.write_string(row, col, neutralise(value), fmt)

    heading_lines, figures = about(report), lines(report)
    sheet = book.add_worksheet("Service report")
    sheet.write_string(0, 0, "Tandem service report", title)
    for n, (heading, value) in enumerate(heading_lines, start=1):
        text(sheet, n, 0, heading, bold)
        text(sheet, n, 1, value, plain)
    top = len(heading_lines) + 2
    for col, heading in enumerate(_period_columns(report)):
        sheet.write_string(top, col, heading, head)
    for r, line in enumerate(figures, start=top + 1):
        d = line.definition
        for col, value in enumerate((line.section, d.label, measure(d), d.who, d.dates)):
            text(sheet, r, col, value)
        for col, number in ((5, line.now), (6, line.before)):
            if number is None:
                sheet.write_blank(r, col, None, formats[d.kind])
            elif number == SUPPRESSED:
                sheet.write_string(r, col, SUPPRESSED, hidden)
            elif d.kind == Kind.SHARE:
                sheet.write_number(r, col, number / 100, formats[d.kind])
            else:
                sheet.write_number(r, col, number, formats[d.kind])
        text(sheet, r, 7, d.source)
    for col, width in enumerate((22, 34, 14, 44, 44, 16, 16, 50)):
        sheet.set_column(col, col, width)
    sheet.freeze_panes(top + 1, 2)

    how = book.add_worksheet("How this is worked out")
    how.write_string(0, 0, "How this is worked out", title)
    text(how, 1, 0, EXPLANATION, plain)
    text(how, 2, 0, f"Source of the small-number rule: {SOURCE}", plain)
    for col, heading in enumerate(["Section", "Figure", "Key", "Measure", "Who is counted",
                                   "Which dates", "Source"]):
        how.write_string(4, col, heading, head)
    for r, line in enumerate(figures, start=5):
        d = line.definition
        for col, value in enumerate((line.section, d.label, d.key, measure(d), d.who, d.dates,
                                     d.source)):
            text(how, r, col, value)
    for col, width in enumerate((22, 34, 30, 14, 50, 50, 60)):
        how.set_column(col, col, width)
    how.freeze_panes(5, 0)
    book.close()
    return buffer.getvalue()


# PDF -------------------------------------------------------------------------------------------

REPORT_CSS = """
.print-report { max-width: none; margin: 0; padding: 0; }
.print-report th, .print-report td { width: auto; font-size: .85rem; }
.print-report td.n { text-align: right; white-space: nowrap; }
.print-report .def { font-size: .75rem; font-weight: normal; color: #333; margin: .1rem 0 0; }
.print-report caption { font-weight: normal; }
.print-report col.n { width: 7.5rem; }
.print-report dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; }
.print-report dt { font-weight: 600; }
.print-report dd { margin: 0; }
.print-report tr { page-break-inside: avoid; }
@page { size: A4 landscape; margin: 14mm; }
"""


def print_context(report: Report) -> dict:
    """What reporting/print.html needs: the lines saying what it is, and the suppressed figures
    by section."""
    sections: dict[str, list[Line]] = {}
    for line in lines(report):
        sections.setdefault(line.section, []).append(line)
    return {"about": about(report), "sections": list(sections.items()),
            "period": report.scope.period, "previous": report.scope.period.previous(),
            "explanation": EXPLANATION, "suppression_source": SOURCE, "for_pdf": True}


def to_pdf(report: Report) -> bytes:
    """The report as a PDF, suppressed, with every figure's definition. Raises PdfUnavailable
    when WeasyPrint cannot load."""
    try:
        from weasyprint import CSS, HTML  # only here: it needs Pango, which a server may lack
    except (ImportError, OSError) as error:
        raise PdfUnavailable(str(error)) from error
    html = render_to_string("reporting/print.html", print_context(report))
    stylesheets = [CSS(string=REPORT_CSS)]
    base = finders.find("tandem/print.css")
    if base:
        stylesheets.insert(0, CSS(filename=base))
    return HTML(string=html).write_pdf(stylesheets=stylesheets)
