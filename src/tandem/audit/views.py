"""The auditor's view of the trail, and its export. Patients appear by service ID only:
nothing clinical."""

import csv
import datetime

from django import forms
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from tandem.audit import parts
from tandem.audit.models import Action, AuditEvent
from tandem.audit.trail import record_request
from tandem.core.dates import date_problem

DATE = forms.DateInput(attrs={"type": "date"})


def _checked(day: datetime.date, what: str) -> datetime.date:
    """As records.dates.check_date, which the audit trail (below records) cannot import."""
    problem = date_problem(day, what, timezone.localdate())
    if problem:
        raise forms.ValidationError(problem)
    return day


class AuditFilter(forms.Form):
    user = forms.CharField(required=False, label="Username")
    patient = forms.CharField(required=False, label="Patient service ID")
    action = forms.ChoiceField(required=False, choices=[("", "Any")] + Action.choices)
    what = forms.ChoiceField(required=False, label="What",
                             choices=[("", "Anything")] + parts.choices())
    since = forms.DateField(required=False, widget=DATE, label="From")
    until = forms.DateField(required=False, widget=DATE, label="To")

    def clean_since(self):
        day = self.cleaned_data["since"]
        return day and _checked(day, "The 'From' date")

    def clean_until(self):  # a day still to come holds no events yet: up to today
        day = self.cleaned_data["until"]
        return day and _checked(min(day, timezone.localdate()), "The 'To' date")

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "'To' is before 'From'.")
        return data


def filtered(request):
    """The organisation's events the filter in the query string asks for, newest first."""
    form = AuditFilter(request.GET or None)
    qs = AuditEvent.objects.filter(organisation_id=request.user.organisation_id)
    if form.is_valid():
        data = form.cleaned_data
        if data["user"]:
            qs = qs.filter(actor_username__iexact=data["user"].strip())
        if data["patient"]:
            qs = qs.filter(patient__service_id__iexact=data["patient"].strip())
        if data["action"]:
            qs = qs.filter(action=data["action"])
        if data["what"]:
            qs = qs.filter(object_type=data["what"])
        if data["since"]:
            qs = qs.filter(occurred_at__date__gte=data["since"])
        if data["until"]:
            qs = qs.filter(occurred_at__date__lt=data["until"] + datetime.timedelta(days=1))
    return form, qs.select_related("patient").order_by("-seq")


def events(request):
    form, qs = filtered(request)
    qs = qs.only(
        "seq", "occurred_at", "actor_username", "role", "action", "object_type", "object_id",
        "path", "client_address", "purpose", "detail", "patient__service_id", "hash",
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    for event in page:
        event.what = parts.staff_words(event.object_type)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "audit/events.html", {"page": page, "form": form, "query": query.urlencode()}
    )


COLUMNS = ("seq", "when", "username", "role", "action", "patient service ID", "what",
           "object type", "object id", "path", "address", "purpose", "detail", "hash")


def _cell(value) -> str:
    """A value as a spreadsheet shows it, never as a formula (a path or a purpose is typed by
    whoever made the request)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


def export(request):
    """The events the filter selects, as CSV, with what each was about in words. The export
    is itself recorded."""
    form, qs = filtered(request)
    if form.is_bound and not form.is_valid():  # never the whole trail for a filter misread
        return redirect(f"{reverse('audit:events')}?{request.GET.urlencode()}")
    record_request(request, "export", object_type="audit-trail")
    actions = dict(Action.choices)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(COLUMNS)
        for e in qs.iterator(chunk_size=2000):
            yield writer.writerow([_cell(v) for v in (
                e.seq, timezone.localtime(e.occurred_at).isoformat(timespec="seconds"),
                e.actor_username, e.role, actions.get(e.action, e.action),
                e.patient.service_id if e.patient else "", parts.staff_words(e.object_type),
                e.object_type, e.object_id, e.path, e.client_address, e.purpose, e.detail,
                e.hash)])

    name = f"audit-trail-{timezone.localdate():%Y-%m-%d}.csv"
    return StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})
