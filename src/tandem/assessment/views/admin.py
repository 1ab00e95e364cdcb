"""The service admin's check-up settings: the schedule and standard check-up, instruments
(upload a new definition), crisis contacts, life-domain cards and answers marked urgent.

Every save is an audit event saying what changed (tandem.accounts.changes). Each page carries
the version of every row it shows, and a save checks them with the rows locked, as planning's
goals and plans do: if another admin saved in between, nothing is saved, the page says what
they changed, and the form keeps what was typed, now carrying the newer versions (saving again
replaces theirs, knowingly)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.forms import modelformset_factory
from django.http import QueryDict
from django.shortcuts import redirect, render

from tandem.accounts.changes import shown
from tandem.assessment import configuration, registry
from tandem.assessment.configuration import label_of, settings_values
from tandem.assessment.forms import CHANGED, UNCHECKED, posted
from tandem.assessment.models import (
    CheckupSettings,
    CrisisContact,
    LifeDomain,
    UploadedInstrument,
    UrgentAnswer,
)
from tandem.audit.actor import Actor
from tandem.core import strict_json
from tandem.core.instruments import DefinitionError, parse
from tandem.records.versioning import VersionedForm

MAX_UPLOAD = 1_000_000  # bytes


MIN_LIFE_DOMAINS = 3  # the check-up chart's star needs three spokes


class Row(VersionedForm, forms.ModelForm):
    """One row of a settings page, carrying the version it was opened at (0: no row yet)."""


class SettingsForm(Row):
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


def place(loc: tuple) -> str:
    """A place in a JSON document as the instrument problems name it: items[2].options[1]."""
    words = ""
    for part in loc:
        words += f"[{part}]" if isinstance(part, int) else f".{part}"
    return words.lstrip(".") or "the top level"


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
        field = "pasted definition"
        if upload:
            field = "definition file"
            if upload.size > MAX_UPLOAD:
                raise forms.ValidationError("The file is larger than 1 MB.")
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        try:
            # refuse_nul: a \u0000 escape would reach PostgreSQL as a NUL it cannot store.
            data = strict_json.loads(text, refuse_nul=True)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
        except strict_json.NulProblem as exc:
            raise forms.ValidationError(
                f"The {field} holds an invisible control character (\\u0000) at "
                f"{place(exc.loc)}: remove it and upload again.") from None
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
        elif UploadedInstrument.objects.of(self.organisation).filter(code=instrument.code,
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
    if request.method != "POST":
        instance = CheckupSettings.objects.filter(organisation=org).first()
        form = SettingsForm(instance=instance or CheckupSettings(organisation=org),
                            organisation=org)
        return render(request, "assessment/manage_settings.html", {"form": form})
    conflict = []
    with transaction.atomic():
        current = CheckupSettings.objects.select_for_update().filter(organisation=org).first()
        instance = current or CheckupSettings(organisation=org)
        before = settings_values(instance)
        form = SettingsForm(request.POST, instance=instance, organisation=org)
        if form.is_valid():
            version = current.version if current else 0
            posted = form.cleaned_data.get("version")
            if posted != version:  # a save without a version cannot be checked: none is made
                typed = settings_values(form.instance)
                conflict = [("Check-up schedule", UNCHECKED if posted is None else CHANGED,
                             [(label_of(CheckupSettings, name), shown(before[name]),
                               shown(typed[name])) for name in before
                              if shown(before[name]) != shown(typed[name])])]
                data = request.POST.copy()
                data["version"] = str(version)
                fresh = CheckupSettings.objects.filter(organisation=org).first()
                form = SettingsForm(data, instance=fresh or CheckupSettings(organisation=org),
                                    organisation=org)
            else:
                configuration.save_settings(Actor.of(request), form, version, before)
    if form.is_valid() and not conflict:
        messages.success(request, "Check-up settings saved. Every patient's next check-up is "
                                  "being recomputed in the background.")
        return redirect("manage:checkups")
    return render(request, "assessment/manage_settings.html",
                  {"form": form, "conflict": conflict})


@transaction.atomic
def instruments(request):
    org = request.user.organisation
    form = UploadForm(posted(request), request.FILES or None, organisation=org)
    if request.method == "POST" and form.is_valid():
        ins = form.cleaned_data["instrument"]
        configuration.upload(Actor.of(request), ins, form.cleaned_data["definition"])
        messages.success(request, f"Imported {ins.title}, version {ins.version}.")
        return redirect("manage:instruments")
    return render(request, "assessment/manage_instruments.html", {
        "form": form, "problems": form.problems,
        "shipped": registry.shipped().values(),
        "uploaded": UploadedInstrument.objects.of(org),
    })


def _formset_page(request, model, fields, template, title, intro, labels=None, clean=None):
    org = request.user.organisation
    FormSet = modelformset_factory(model, form=Row, fields=fields, extra=2,
                                   can_delete=True, labels=labels or {})
    queryset = model.objects.of(org)
    if request.method != "POST":
        formset = FormSet(queryset=queryset, prefix="rows")
        return render(request, template, {"formset": formset, "title": title, "intro": intro})
    conflict = []
    try:
        with transaction.atomic():
            current = {row.pk: row for row in queryset.select_for_update()}
            conflict = _row_conflicts(request.POST, model, fields, current)
            if conflict:
                formset = FormSet(_refreshed(request.POST, fields, current), queryset=queryset,
                                  prefix="rows")
            else:
                formset = FormSet(request.POST, queryset=queryset, prefix="rows")
                if formset.is_valid():
                    if clean:
                        clean(org, formset, current)
                    if not formset.total_error_count():
                        configuration.save_rows(Actor.of(request), formset, model, fields,
                                                current)
                        messages.success(request, f"{title} saved.")
                        return redirect(request.resolver_match.view_name)
    except IntegrityError:  # a row with the same key was added by someone else meanwhile
        formset = FormSet(request.POST, queryset=queryset, prefix="rows")
        formset.is_valid()
        formset.non_form_errors().append(
            "Someone else added a row with the same code or question meanwhile; nothing was "
            "saved. Reload the page to see it.")
    return render(request, template, {"formset": formset, "title": title, "intro": intro,
                                      "conflict": conflict})


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _row_conflicts(post, model, fields, current) -> list[tuple[str, str, list]]:
    """(row, what happened, [(field, saved now, typed)]) for each row of the posted page that
    someone else changed or removed since it was opened, or that was posted without its
    version (it cannot be checked, so it is not saved either)."""
    RowForm = forms.modelform_factory(model, fields=fields)
    found = []
    for i in range(min(_int(post.get("rows-INITIAL_FORMS")) or 0, 1000)):
        pk, version = _int(post.get(f"rows-{i}-id")), _int(post.get(f"rows-{i}-version"))
        if pk not in current:
            typed = post.get(f"rows-{i}-{fields[0]}", "")
            found.append((typed, "removed since you opened this page; it is below again as a "
                                 "new row: clear it to let it go", []))
        elif current[pk].version != version:
            row = RowForm(post, prefix=f"rows-{i}", instance=current[pk])
            found.append((str(current[pk]), UNCHECKED if version is None else CHANGED, [
                (label_of(model, name), shown(getattr(current[pk], name)),
                 shown(row[name].value())) for name in row.changed_data]))
    return found


def _refreshed(post, fields, current) -> QueryDict:
    """The posted rows again, carrying the versions saved now; a row removed meanwhile comes
    back as a new row, so what was typed in it is not lost."""
    keys = [*fields, "id", "version", "DELETE"]
    initial = _int(post.get("rows-INITIAL_FORMS")) or 0
    kept, revived = [], []
    for i in range(min(_int(post.get("rows-TOTAL_FORMS")) or 0, 1000)):
        row = {k: post.getlist(f"rows-{i}-{k}") for k in keys}
        pk = _int(post.get(f"rows-{i}-id"))
        if i < initial and pk in current:
            row["version"] = [str(current[pk].version)]
            kept.append(row)
        elif i >= initial or not row["DELETE"]:
            row["id"], row["version"] = [], ["0"]  # a new row, as the page shows one
            revived.append(row)
    data = QueryDict(mutable=True)
    data.update({"rows-TOTAL_FORMS": str(len(kept) + len(revived)),
                 "rows-INITIAL_FORMS": str(len(kept)), "rows-MIN_NUM_FORMS": "0",
                 "rows-MAX_NUM_FORMS": "1000"})
    for n, row in enumerate(kept + revived):
        for key, values in row.items():
            data.setlist(f"rows-{n}-{key}", values)
    return data


def crisis_contacts(request):
    return _formset_page(
        request, CrisisContact, ["name", "phone", "text", "hours", "description", "position"],
        "assessment/manage_rows.html", "Crisis contacts",
        "Shown to a patient at once when an answer needs same-day attention. With none "
        "entered, national helplines are shown: "
        + ", ".join(c["name"] for c in registry.default_crisis_contacts()) + ".")


def life_domains(request):
    def clean(org, formset, current):
        codes = [f.cleaned_data.get("code") for f in formset.forms
                 if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        for f in formset.forms:
            code = f.cleaned_data.get("code") if f.cleaned_data else None
            if code and codes.count(code) > 1:
                f.add_error("code", "Each card needs its own code.")
        # The cards that would be in use after this save: rows not on the page as they are,
        # rows on the page as typed.
        on_page = {f.instance.pk for f in formset.forms if f.instance.pk}
        active = sum(row.active for pk, row in current.items() if pk not in on_page)
        active += sum(1 for f in formset.forms
                      if f.cleaned_data and not f.cleaned_data.get("DELETE")
                      and f.cleaned_data.get("code") and f.cleaned_data.get("active"))
        if 0 < active < MIN_LIFE_DOMAINS:
            formset.non_form_errors().append(
                f"Keep at least three active cards (you would have {active}): the check-up "
                "chart compares three or more areas of life. To use Tandem's default set "
                "instead, remove them all.")

    return _formset_page(
        request, LifeDomain, ["code", "label", "question", "position", "active"],
        "assessment/manage_rows.html", "Life-domain cards",
        "The areas of life patients rate at check-ups and sort when setting goals. With none "
        "entered, Tandem's default set is used: "
        + ", ".join(label for _c, label, _q in registry.default_cards()) + ".",
        labels={"code": "Code (letters, numbers, _ and -)"}, clean=clean)


def urgent_answers(request):
    def clean(org, formset, current):
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
