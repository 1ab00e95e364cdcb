"""The caseload's two tables ("who needs me today" and the keyworkers' loads) as HTML rows,
built with Django's format_html, so every value is escaped as a template would escape it.

Why not template tags: this is the page staff open most, and a team lead's copy has some 900
values in its tables; as template variables they cost more than the page's SQL
(bench/caseload_load.py). The rest of the page is the template `patients/list.html`.
"""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

LOAD_COUNTS = ("patients", "flagged", "urgent", "overdue")
NOTHING_DUE = mark_safe('<span class="muted">Nothing due</span>')


def _why(p) -> SafeString:
    items = [format_html('<li><a href="{}">{}</a>: {}</li>', f.url, f.rule_title, f.evidence)
             for f in p.open_flags]
    if p.review_overdue:
        items.append(format_html("<li>Care-plan review overdue since {}</li>", p.review_due_text))
    if p.checkup_overdue:
        items.append(format_html("<li>Check-up overdue since {}</li>", p.checkup_due_text))
    if p.awaiting_signature:
        items.append(mark_safe("<li>Care-plan version waiting for a signature</li>"))
    if not items:
        return NOTHING_DUE
    return format_html('<ul class="reasons">{}</ul>', mark_safe("".join(items)))


def _row(p) -> SafeString:
    need = ""
    if p.need_label:
        need = format_html('<br><span class="status status-need-{}">{}</span>', p.need,
                           "Urgent alert" if p.urgent else p.need_label)
    started = format_html(' <span class="muted">from {}</span>', p.episode_start_text) \
        if p.episode_start else ""
    return format_html(
        '<tr{}><th scope="row"><a href="{}">{}, {}</a> <span class="muted">{}</span>{}</th>'
        '<td>{}</td><td><span class="status status-{}">{}</span>{}</td><td>{}</td><td>{}</td>'
        "</tr>\n",
        mark_safe(' class="row-urgent"') if p.urgent else "", p.url, p.family_name,
        p.preferred_name or p.given_name, p.service_id, need, _why(p),
        p.episode_status or "none", p.status_label, started, p.team.name, p.role_label)


def caseload_rows(rows) -> SafeString:
    """The body of the caseload table: one row per patient, with why they are there."""
    return mark_safe("".join(_row(p) for p in rows))


def load_rows(loads) -> SafeString:
    """The body of the keyworkers' table."""
    return format_html_join(
        "\n", '<tr><th scope="row">{} {}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        ((r["first_name"], r["last_name"], *(f"{r[k]:,}" for k in LOAD_COUNTS))
         for r in loads))
