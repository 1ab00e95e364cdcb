"""The caseload's two tables ("who needs me today" and the keyworkers' loads) as HTML rows.

Why not template tags: this is the page staff open most, and a team lead's copy has some 900
values in its tables; as template variables (or format_html calls) they cost more than the
page's SQL (bench/caseload_load.py). Every value goes through `e` (html.escape with quotes,
exactly what Django's own escaping does) before it joins the markup. The rest of the page is
the template `patients/list.html`.
"""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe

LOAD_COUNTS = ("patients", "flagged", "urgent", "overdue")


def e(value) -> str:
    return escape(str(value), quote=True)


def _why(p) -> str:
    items = [f'<li><a href="{e(f.url)}">{e(f.rule_title)}</a>: {e(f.evidence)}</li>'
             for f in p.open_flags] + [f"<li>{e(text)}</li>" for text in p.due]
    if not items:
        return '<span class="muted">Nothing due</span>'
    return f'<ul class="reasons">{"".join(items)}</ul>'


def _row(p) -> str:
    need = ""
    if p.need_label:
        label = "Urgent alert" if p.urgent else p.need_label
        need = f'<br><span class="status status-need-{e(p.need)}">{e(label)}</span>'
    started = f' <span class="muted">from {e(p.episode_start_text)}</span>' \
        if p.episode_start else ""
    urgent = ' class="row-urgent"' if p.urgent else ""
    return (
        f'<tr{urgent}><th scope="row"><a href="{e(p.url)}">{e(p.family_name)}, '
        f'{e(p.preferred_name or p.given_name)}</a> <span class="muted">{e(p.service_id)}'
        f"</span>{need}</th><td>{_why(p)}</td><td><span class=\"status status-"
        f'{e(p.episode_status or "none")}">{e(p.status_label)}</span>{started}</td>'
        f"<td>{e(p.team.name)}</td><td>{e(p.role_label)}</td></tr>\n")


def caseload_rows(rows) -> SafeString:
    """The body of the caseload table: one row per patient, with why they are there."""
    return mark_safe("".join(_row(p) for p in rows))  # noqa: S308 - every value escaped above


def load_rows(loads) -> SafeString:
    """The body of the keyworkers' table."""
    return mark_safe("\n".join(  # noqa: S308 - every value escaped here
        f'<tr><th scope="row">{e(r["first_name"])} {e(r["last_name"])}</th>'
        + "".join(f"<td>{r[k]:,}</td>" for k in LOAD_COUNTS) + "</tr>"
        for r in loads))
