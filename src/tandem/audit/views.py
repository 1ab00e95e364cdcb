"""The auditor's view of the trail. Patients appear by service ID only: nothing clinical."""

import datetime

from django import forms
from django.core.paginator import Paginator
from django.shortcuts import render

from tandem.audit.models import Action, AuditEvent

DATE = forms.DateInput(attrs={"type": "date"})


class AuditFilter(forms.Form):
    user = forms.CharField(required=False, label="Username")
    patient = forms.CharField(required=False, label="Patient service ID")
    action = forms.ChoiceField(required=False, choices=[("", "Any")] + Action.choices)
    since = forms.DateField(required=False, widget=DATE, label="From")
    until = forms.DateField(required=False, widget=DATE, label="To")

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "'To' is before 'From'.")
        return data


def events(request):
    org = request.user.organisation
    form = AuditFilter(request.GET or None)
    qs = AuditEvent.objects.filter(organisation=org).select_related("patient")
    if form.is_valid():
        data = form.cleaned_data
        if data["user"]:
            qs = qs.filter(actor_username__iexact=data["user"].strip())
        if data["patient"]:
            qs = qs.filter(patient__service_id__iexact=data["patient"].strip())
        if data["action"]:
            qs = qs.filter(action=data["action"])
        if data["since"]:
            qs = qs.filter(occurred_at__date__gte=data["since"])
        if data["until"]:
            qs = qs.filter(occurred_at__date__lt=data["until"] + datetime.timedelta(days=1))
    qs = qs.order_by("-seq").only(
        "seq", "occurred_at", "actor_username", "role", "action", "object_type", "object_id",
        "client_address", "purpose", "patient__service_id", "hash",
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "audit/events.html", {"page": page, "form": form, "query": query.urlencode()}
    )
