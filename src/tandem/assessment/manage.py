"""The service admin's check-up settings: the schedule and standard check-up, instruments
(upload a new definition), crisis contacts, life-domain cards and answers marked urgent."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.db import transaction
from django.forms import modelformset_factory
from django.shortcuts import redirect, render

from tandem.assessment import registry
from tandem.assessment.forms import posted
from tandem.assessment.models import (
    CheckupSettings,
    CrisisContact,
    LifeDomain,
    UploadedInstrument,
    UrgentAnswer,
)
from tandem.core.instruments import DefinitionError, parse
from tandem.monitoring.tasks import refresh_schedules
from tandem.web import strict_json

MAX_UPLOAD = 1_000_000  # bytes


class SettingsForm(forms.ModelForm):
    instruments = forms.MultipleChoiceField(
        label="Questionnaires in a check-up", widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = CheckupSettings
        fields = ["interval_weeks", "post_exit_every_months", "post_exit_for_months",
                  "instruments"]

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instruments"].choices = [
            (code, ins.title) for code, ins in registry.available(organisation).items()]
        self.initial["instruments"] = self.instance.instrument_codes()


class UploadForm(forms.Form):
    file = forms.FileField(label="Definition file (JSON)", required=False)
    text = forms.CharField(label="…or paste the definition", widget=forms.Textarea(
        attrs={"rows": 8, "spellcheck": "false"}), required=False)

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.problems: list[str] = []

    def clean(self):
        upload, text = self.cleaned_data.get("file"), self.cleaned_data.get("text", "").strip()
        if not upload and not text:
            raise forms.ValidationError("Choose a file or paste a definition.")
        if upload:
            if upload.size > MAX_UPLOAD:
                raise forms.ValidationError("The file is larger than 1 MB.")
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        try:
            data = strict_json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
        except strict_json.JSONProblem as exc:
            raise forms.ValidationError(f"Not accepted: {exc}") from None
        try:
            instrument = parse(data)
        except DefinitionError as exc:
            self.problems = exc.problems
            raise forms.ValidationError(
                f"The definition has {len(exc.problems)} problem"
                f"{'s' if len(exc.problems) != 1 else ''}; nothing was imported.") from None
        if instrument.code in registry.shipped():
            self.problems = [f"code: '{instrument.code}' is an instrument shipped with Tandem"]
        elif UploadedInstrument.objects.filter(organisation=self.organisation,
                                               code=instrument.code,
                                               version=instrument.version).exists():
            self.problems = [f"version: '{instrument.version}' of '{instrument.code}' is "
                             "already uploaded; give the new definition a new version"]
        if self.problems:
            raise forms.ValidationError("Nothing was imported.")
        self.cleaned_data["instrument"] = instrument
        self.cleaned_data["definition"] = data
        return self.cleaned_data


def settings_page(request):
    org = request.user.organisation
    instance = CheckupSettings.objects.filter(organisation=org).first() or CheckupSettings(
        organisation=org)
    form = SettingsForm(request.POST or None, instance=instance, organisation=org)
    if request.method == "POST" and form.is_valid():
        form.save()
        # Every patient's next check-up moves with the settings: the worker recomputes them.
        refresh_schedules.enqueue(org.pk)
        messages.success(request, "Check-up settings saved. Every patient's next check-up is "
                                  "being recomputed in the background.")
        return redirect("manage:checkups")
    return render(request, "assessment/manage_settings.html", {"form": form})


@transaction.atomic
def instruments(request):
    org = request.user.organisation
    form = UploadForm(posted(request), request.FILES or None, organisation=org)
    if request.method == "POST" and form.is_valid():
        ins = form.cleaned_data["instrument"]
        UploadedInstrument.objects.create(
            organisation=org, code=ins.code, version=ins.version, title=ins.title,
            definition=form.cleaned_data["definition"], uploaded_by=request.user)
        messages.success(request, f"Imported {ins.title}, version {ins.version}.")
        return redirect("manage:instruments")
    return render(request, "assessment/manage_instruments.html", {
        "form": form, "problems": form.problems,
        "shipped": registry.shipped().values(),
        "uploaded": UploadedInstrument.objects.filter(organisation=org),
    })


def _formset_page(request, model, fields, template, title, intro, labels=None, clean=None):
    org = request.user.organisation
    FormSet = modelformset_factory(model, fields=fields, extra=2, can_delete=True,
                                   labels=labels or {})
    formset = FormSet(request.POST or None, queryset=model.objects.filter(organisation=org),
                      prefix="rows")
    if request.method == "POST" and formset.is_valid():
        if clean:
            clean(org, formset)
        if not any(f.errors for f in formset.forms):
            with transaction.atomic():
                for obj in formset.save(commit=False):
                    obj.organisation = org
                    obj.save()
                for obj in formset.deleted_objects:
                    obj.delete()
            messages.success(request, f"{title} saved.")
            return redirect(request.resolver_match.view_name)
    return render(request, template, {"formset": formset, "title": title, "intro": intro})


def crisis_contacts(request):
    return _formset_page(
        request, CrisisContact, ["name", "phone", "text", "hours", "description", "position"],
        "assessment/manage_rows.html", "Crisis contacts",
        "Shown to a patient at once when an answer needs same-day attention. With none "
        "entered, national helplines are shown: "
        + ", ".join(c["name"] for c in registry.default_crisis_contacts()) + ".")


def life_domains(request):
    def clean(org, formset):
        codes = [f.cleaned_data.get("code") for f in formset.forms
                 if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        for f in formset.forms:
            code = f.cleaned_data.get("code") if f.cleaned_data else None
            if code and codes.count(code) > 1:
                f.add_error("code", "Each card needs its own code.")

    return _formset_page(
        request, LifeDomain, ["code", "label", "question", "position", "active"],
        "assessment/manage_rows.html", "Life-domain cards",
        "The areas of life patients rate at check-ups and sort when setting goals. With none "
        "entered, Tandem's default set is used: "
        + ", ".join(label for _c, label, _q in registry.default_cards()) + ".",
        labels={"code": "Code (letters, numbers, _ and -)"}, clean=clean)


def urgent_answers(request):
    def clean(org, formset):
        available = registry.available(org)
        for f in formset.forms:
            data = f.cleaned_data
            if not data or data.get("DELETE") or not data.get("instrument_code"):
                continue
            ins = available.get(data["instrument_code"])
            if ins is None:
                f.add_error("instrument_code", "No instrument has this code.")
            elif data.get("item_id") not in ins.items_by_id:
                f.add_error("item_id", f"{ins.name} has no question with this id.")

    return _formset_page(
        request, UrgentAnswer, ["instrument_code", "item_id", "at_least", "message"],
        "assessment/manage_rows.html", "Answers marked urgent",
        "On top of each questionnaire's own safety rules (such as PHQ-9 question 9), an answer "
        "at or above the value here raises an urgent flag for the care team and shows the "
        "patient the crisis contacts. Yes/no questions count yes as 1.",
        labels={"instrument_code": "Questionnaire code", "item_id": "Question id"}, clean=clean)
