"""The service report's pages: the report itself (/reports/), how each figure is worked out
(/reports/definitions/), the patients behind one figure (/reports/<key>/patients/) and the
exports (/reports/export.csv|xlsx|pdf).

Who may open which page is in web/permissions.py (READS_REPORT, DRILLS_REPORT); whose figures
they see is `forms.reader_of`. On screen, staff see exact figures, each marked when it would
be suppressed in anything that leaves the service (core/suppression.py); the exports suppress
them. Every export is recorded on the audit trail with its format and filters, and every list
of patients with each patient it showed (web.permissions.LISTS).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from tandem.assessment import registry
from tandem.audit.trail import record_request
from tandem.core import charts
from tandem.core.report import SECTIONS, Kind, Value
from tandem.core.suppression import would_suppress
from tandem.patients.access import visible_patients
from tandem.reporting import exports
from tandem.reporting.figures import BY_KEY, FIGURES, outcomes
from tandem.reporting.forms import ReportFilter, reader_of
from tandem.reporting.report import Report, Row, build
from tandem.reporting.scope import treated_once

PAGE_SIZE = 100  # patients on one page of a figure's list
CHART_WIDTH = 960  # about the page's width, so that the chart's text is drawn near its size
EXPORTS = {
    "csv": ("CSV", "text/csv; charset=utf-8", exports.to_csv),
    "xlsx": ("spreadsheet (XLSX)",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             exports.to_xlsx),
    "pdf": ("PDF", "application/pdf", exports.to_pdf),
}
# Charts, where people would rather look: (id, section, title, which rows), shown at the end
# of their section with their own table. Shares only (0 to 100%), the previous period beside
# this one.
CHARTS = [
    ("goal-kinds", "balance", "The mix of substance goal kinds",
     lambda d: d.key.startswith("goal-kind-") and d.kind == Kind.SHARE),
    ("reviews-on-time", "reviews", "Reviews on time",
     lambda d: d.section == "reviews" and d.kind == Kind.SHARE),
]


@dataclass(frozen=True)
class Shown:
    """One value as the page shows it: the number, what it is of, and whether it would be
    suppressed outside the service."""

    number: str
    detail: str  # "4 of 10", "12 people", ""
    suppressed: bool
    sure: bool  # there is a number at all


def _number(x: float) -> str:
    text = f"{x:.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return text.replace("-", "\u2212")


def shown(kind: Kind, value: Value, unit: str = "") -> Shown:
    suppressed = bool(would_suppress(kind, value))
    if kind == Kind.COUNT:
        if value.count is None:
            return Shown("\u2014", "not worked out", suppressed, False)
        return Shown(str(value.count), "", suppressed, True)
    if kind == Kind.SHARE:
        if value.count is None:
            return Shown("\u2014", "not worked out", suppressed, False)
        if value.percent is None:
            return Shown("\u2014", "nobody to count", suppressed, False)
        return Shown(f"{value.percent:.0f}%", f"{value.count} of {value.of}", suppressed, True)
    people = value.people or 0
    detail = f"{people} {'person' if people == 1 else 'people'}"
    if value.value is None:
        return Shown("\u2014", detail, suppressed, False)
    return Shown(f"{_number(value.value)}{' ' + unit if unit else ''}", detail, suppressed, True)


@dataclass(frozen=True)
class Change:
    arrow: str  # ▲ ▼ or =
    words: str  # "up 4 percentage points"
    judgement: str  # "better", "worse" or ""


def change(row: Row) -> Change | None:
    d = row.definition
    now, before = row.now.shown(d.kind), row.before.shown(d.kind)
    if now is None or before is None:
        return None
    if d.kind == Kind.SHARE:
        diff, unit = round(now - before), "percentage points"
    elif d.kind == Kind.COUNT:
        diff, unit = now - before, ""
    else:
        diff, unit = round(now - before, 1), d.unit
    if diff == 0:
        return Change("=", "no change", "")
    size = _number(abs(diff)).replace("\u2212", "")
    words = f"{'up' if diff > 0 else 'down'} {size}{' ' + unit if unit else ''}"
    judgement = ""
    if d.higher_is_better is not None:
        judgement = "better" if (diff > 0) == d.higher_is_better else "worse"
    return Change("\u25b2" if diff > 0 else "\u25bc", words, judgement)


@dataclass(frozen=True)
class Line:
    """One figure's row on the page."""

    row: Row
    now: Shown
    before: Shown
    change: Change | None
    drill_url: str

    @property
    def definition(self):
        return self.row.definition

    @property
    def values(self) -> tuple[Shown, Shown]:
        return self.now, self.before


def lines(report: Report, query: str, drills: bool) -> list[tuple[str, str, list[Line]]]:
    out = []
    for key, heading, rows in report.sections():
        section = []
        for row in rows:
            d = row.definition
            drill = ""
            if drills and d.drill and row.figure.patients is not None:
                drill = f"{reverse('reports:patients', args=[d.key])}?{query}"
            section.append(Line(row, shown(d.kind, row.now, d.unit),
                                shown(d.kind, row.before, d.unit), change(row), drill))
        out.append((key, heading, section))
    return out


def chart_of(report: Report, chart_id: str, section: str, title: str, which) -> dict | None:
    rows = [r for r in report.rows if which(r.definition)]
    if not rows:
        return None
    period, previous = report.scope.period, report.scope.period.previous()
    axes = [r.definition.label for r in rows]
    # Labels that all begin alike ("Goal: ...") lose the beginning, which the title says.
    prefix = axes[0].split(": ", 1)[0] + ": " if ": " in axes[0] else ""
    if prefix and len(axes) > 1 and all(a.startswith(prefix) for a in axes):
        axes = [a[len(prefix):] for a in axes]
    series = [charts.Series(f"Previous period ({previous})",
                            [r.before.percent for r in rows]),
              charts.Series(f"This period ({period})", [r.now.percent for r in rows],
                            latest=True)]
    svg = charts.bars_svg(axes, series, max_value=100, title=title, width=CHART_WIDTH,
                          description="Percentages of each figure's group, this period against "
                                      "the previous one, from 0 to 100%; the table below gives "
                                      "the numbers.",
                          id_prefix=f"chart-{chart_id}")
    table = [(r.definition, (shown(Kind.SHARE, r.now), shown(Kind.SHARE, r.before)))
             for r in rows]
    return {"id": chart_id, "section": section, "title": title,
            "svg": mark_safe(svg),  # noqa: S308 - built by core.charts, every text escaped
            "table": table}


def _form(request):
    reader = reader_of(request.user)
    return reader, ReportFilter(reader, request.GET)


def service(request):
    """The report for the reader's filters: every section, the previous period beside."""
    reader, form = _form(request)
    context = {"form": form, "reader": reader, "sections": SECTIONS, "formats": [
        (fmt, words) for fmt, (words, _type, _f) in EXPORTS.items()]}
    if not form.is_valid():
        return render(request, "reporting/service.html", context, status=400)
    scope = form.scope()
    report = build(scope)
    query = form.query()
    context.update({
        "report": report, "query": query, "period": scope.period, "whose": form.whose(),
        "previous": scope.period.previous(), "computed_at": timezone.localtime(
            report.computed_at),
        "lines": lines(report, query, reader.drills),
        "charts": [c for c in (chart_of(report, *spec) for spec in CHARTS) if c],
        "any_suppressed": any(
            would_suppress(r.definition.kind, v) for r in report.rows for v in (r.now, r.before)),
    })
    return render(request, "reporting/service.html", context)


def _service_sd_lines(organisation_id: int) -> dict[str, str]:
    """{figure key: the figures its reliable change uses at this service now} for the
    questionnaires whose SD is the service's own (outcomes.SERVICE_SD)."""
    found = {}
    for code in outcomes.SERVICE_SD:
        name = registry.shipped()[code].name
        people, sd, points = outcomes.service_sd(organisation_id, code)
        have = "episode has" if people == 1 else "episodes have"
        if points is None:
            text = (f"Not worked out yet: {people} {have} a scored first {name} here so far, "
                    f"and it takes {outcomes.FEWEST_FIRST_SCORES} with different scores.")
        else:
            text = (f"Now: {people} {have} a scored first {name}, with an SD of {sd:.2f}, so a "
                    f"change of more than {points:.2f} points counts, in every period.")
        for way in ("improvement", "deterioration"):
            found[f"{code}-reliable-{way}"] = text
    return found


def definitions(request):
    """How every figure is worked out: who, which dates, which source, by section; and, for
    reliable change from the service's own SD, the figures it uses today."""
    here = _service_sd_lines(request.user.organisation_id)
    sections = [(key, heading, [(f.definition, here.get(f.key, "")) for f in FIGURES
                                if f.definition.section == key])
                for key, heading in SECTIONS.items()]
    return render(request, "reporting/definitions.html", {
        "sections": [s for s in sections if s[2]], "kinds": Kind})


NOT_COUNTED = "not-counted"  # ?list=: a share's others (Figure.others), not its numerator


def patients(request, key: str):
    """The patients behind one figure (its count, or a share's numerator) for the reader's
    filters, narrowed to the patients the reader may open; with `?list=not-counted`, those of a
    share's group it does not count (e.g. not on schedule). Each one listed is recorded."""
    figure = BY_KEY.get(key)
    if figure is None or not figure.definition.drill or figure.patients is None:
        raise Http404("No list of patients behind this figure.")
    others = request.GET.get("list") == NOT_COUNTED
    if others and figure.others is None:
        raise Http404("No list of the patients this figure does not count.")
    reader, form = _form(request)
    context = {"form": form, "definition": figure.definition, "reader": reader,
               "others": others, "has_others": figure.others is not None,
               "not_counted": NOT_COUNTED,
               "relation": "not counted in" if others else "behind"}
    if not form.is_valid():
        request.shown_patients = []
        return render(request, "reporting/patients.html", context, status=400)
    # Who is in treatment worked out once for the three queries below (reporting/scope.py).
    with treated_once(form.scope()) as scope:
        behind = (figure.others if others else figure.patients)(scope)
        found = (visible_patients(request.user).filter(pk__in=behind)
                 .select_related("team")
                 .only("pk", "service_id", "given_name", "family_name", "preferred_name",
                       "team__name")
                 .order_by("family_name", "given_name", "service_id", "pk"))
        page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
        count = behind.count()
    request.shown_patients = [p.pk for p in rows]  # each is audited (permissions.LISTS)
    filters = form.query()
    context.update({
        "page": page, "rows": rows, "period": scope.period, "filters": filters,
        "query": f"{filters}&list={NOT_COUNTED}" if others else filters,
        "whose": form.whose(), "behind": count,
    })
    return render(request, "reporting/patients.html", context)


def export(request, fmt: str):
    """The report for the reader's filters as CSV, XLSX or PDF, small numbers suppressed.
    Recorded on the audit trail: who, which format, which filters."""
    if fmt not in EXPORTS:
        raise Http404("No such format.")
    reader, form = _form(request)
    if not form.is_valid():  # the report page says what is wrong, field by field
        return redirect(f"{reverse('reports:service')}?{request.GET.urlencode()}")
    words, content_type, make = EXPORTS[fmt]
    report = build(form.scope())
    try:
        document = make(report)
    except exports.PdfUnavailable:  # no Pango on this server: nothing left the service
        return render(request, "reporting/pdf_unavailable.html", {"query": form.query()},
                      status=503)
    record_request(request, "export", object_type="service-report", object_id=fmt,
                   detail=f"Service report as {words}: {form.described()}")
    return HttpResponse(document, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{exports.filename(report, fmt)}"'})
