"""The service admin's pages of messages (/manage/messages/): the service's everyday name and
clinical names, and its wording of each kind of message, with a preview. Wording that would
tell what the service is about is refused, naming the words."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.audit.trail import record_by
from tandem.core import reminders as rules
from tandem.outbox.models import ServiceWording
from tandem.records import versioning
from tandem.records.versioning import VersionedForm
from tandem.reminders.models import Template
from tandem.reminders.wording import Person, Service, compose, service_of

# What each kind is, for the service admin.
KINDS = {
    "checkup-soon": "Check-up due in 3 days",
    "checkup-today": "Check-up due today",
    "checkup-late": "Check-up missed: 7 days after it was due",
    "after-treatment": "After treatment: the quarterly check-up",
    "plan-review-soon": "Plan review in 7 days",
    "plan-to-sign": "A plan waiting for their signature",
    "change-answered": "An answer to a change they asked for in their plan",
    "medication-review-soon": "Medication review in 7 days",
    "dose-request-answered": "An answer to their dose request",
    "appointment-tomorrow": "Appointment tomorrow",
}
# The placeholders each kind always has a value for; the others (the keyworker, the goal)
# only sometimes, so they must be inside [[ ]].
ALWAYS = {"name", "service", "date"}
WITH_LINK = {"checkup-soon", "checkup-today", "checkup-late", "after-treatment", "plan-to-sign",
             "change-answered", "dose-request-answered", "appointment-tomorrow"}


class Sample:
    """A made-up message of one kind, for the preview and for checking a template fills."""

    def __init__(self, kind: str, everything: bool):
        self.kind = kind
        self.about = timezone.localdate() + datetime.timedelta(days=3)
        self.link = "/portal/" if kind in WITH_LINK else ""
        self.time = "10:30" if kind == "appointment-tomorrow" and everything else ""
        self.place = "the Riverside centre" if kind == "appointment-tomorrow" and everything \
            else ""
        self.keyworker = "Sam" if everything else ""


def sample_person(everything: bool) -> Person:
    return Person(
        patient_id=None, organisation_id=0, name="Jade", phone="07700 900123", email="",
        address="1 High Street\nTown\nAB1 2CD", channels=["sms"], groups=[],
        window=rules.Window(datetime.time(9), datetime.time(20)), name_the_service=False,
        ok_to_leave_message=everything, agrees_to_sms=True, agrees_to_email=False,
        stop_token="example", goal="See my kids every weekend" if everything else "")


class WordingForm(VersionedForm, forms.ModelForm):
    class Meta:
        model = ServiceWording
        fields = ["everyday_name", "other_names"]
        widgets = {"other_names": forms.Textarea(attrs={"rows": 3})}

    def clean(self):
        data = super().clean()
        name = data.get("everyday_name", "")
        told = rules.words_that_tell(name, [n for n in (data.get("other_names") or "")
                                            .splitlines() if n.strip()])
        if told:
            self.add_error("everyday_name", f"This says what the service is about "
                                            f"({', '.join(told)}): choose a name that does not.")
        return data


class TemplateForm(VersionedForm, forms.ModelForm):
    class Meta:
        model = Template
        fields = ["subject", "text", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8}),
                   "text": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"text": "Keep it short: a text message of more than 160 characters is "
                              "sent, and charged, as several."}

    def __init__(self, *args, kind: str, service: Service, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind, self.service = kind, service

    def clean(self):
        data = super().clean()
        for name in ("subject", "text", "body"):
            value = data.get(name)
            if not value:
                continue
            try:
                used = rules.placeholders_in(value)
            except rules.TemplateError as error:
                self.add_error(name, str(error))
                continue
            if "link" in used and self.kind not in WITH_LINK:
                self.add_error(name, "This kind of message has no link: take out {link}.")
                continue
            told = rules.words_that_tell(value, self.service.clinical_names)
            if told:
                self.add_error(name, f"This says what the service is about "
                                     f"({', '.join(told)}). Messages must not, unless a "
                                     "patient chose that: use the service's everyday name "
                                     "({service}) and plain words.")
                continue
            try:  # it must fill when only the values every message has are there
                rules.render(value, _values(self.kind, everything=False))
            except rules.TemplateError as error:
                self.add_error(name, str(error))
        return data


def _values(kind: str, everything: bool) -> dict:
    values = {p: None for p in rules.PLACEHOLDERS}
    values.update(name="Jade", service="Riverside", date="Thursday 5 March")
    if kind in WITH_LINK:
        values["link"] = "https://tandem.example/portal/"
    if everything:
        values.update(keyworker="Sam", goal="See my kids every weekend")
        if kind == "appointment-tomorrow":
            values.update(time="10:30", place="the Riverside centre")
    return values


def _service(organisation) -> tuple[ServiceWording | None, Service]:
    wording = ServiceWording.objects.of(organisation).first()
    service = service_of(organisation, wording)
    service.templates = {t.kind: t.wording for t in Template.objects.of(organisation)}
    return wording, service


def previews(kind: str, service: Service) -> list[dict]:
    """The message as a patient would get it, by each way: with everything (a keyworker
    named, a goal quoted) and with only what every message has."""
    found = []
    for everything in (True, False):
        for channel in ("sms", "email", "letter"):
            try:
                subject, body = compose(Sample(kind, everything), sample_person(everything),
                                        service, channel, "https://tandem.example")
            except rules.TemplateError as error:
                subject, body = "", f"Cannot be filled: {error}"
            found.append({"channel": channel, "everything": everything, "subject": subject,
                          "body": body})
    return found


@transaction.atomic
def messages_settings(request):
    org = request.user.organisation
    wording, service = _service(org)
    instance = wording or ServiceWording(organisation=org, everyday_name="")

    def make_form(data, instance):
        return WordingForm(data, instance=instance)

    form, stale = make_form(request.POST or None, instance), None
    if request.method == "POST" and form.is_valid():
        try:
            versioning.save(form, Actor.of(request))
        except versioning.Stale as conflict:
            form, stale = versioning.form_again(request, make_form, conflict), conflict
        else:
            messages.success(request, "The service's names for messages are saved.")
            return redirect("manage:messages")
    return render(request, "reminders/service_messages.html", {
        "form": form, "stale": stale, "service": service,
        "kinds": [(k, words, k in service.templates) for k, words in KINDS.items()]})


@transaction.atomic
def template_page(request, kind: str):
    if kind not in KINDS:
        raise Http404("No such kind of message")
    org = request.user.organisation
    _wording, service = _service(org)
    saved = Template.objects.of(org).filter(kind=kind).first()
    default = rules.DEFAULT_TEMPLATES[kind]
    instance = saved or Template(organisation=org, kind=kind, subject=default.subject,
                                 text=default.text, body=default.body)

    def make_form(data, instance):
        return TemplateForm(data, instance=instance, kind=kind, service=service)

    form, stale = make_form(request.POST or None, instance), None
    if request.method == "POST" and request.POST.get("restore") and saved:
        saved.delete()
        record_by(Actor.of(request), "delete", obj=saved)
        messages.success(request, "Tandem's wording is back for this message.")
        return redirect("manage:message-template", kind=kind)
    previewing = "preview" in request.POST
    if request.method == "POST" and form.is_valid() and not previewing:
        try:
            versioning.save(form, Actor.of(request))
        except versioning.Stale as conflict:
            form, stale = versioning.form_again(request, make_form, conflict), conflict
        else:
            messages.success(request, "Saved. Messages of this kind use it from now on.")
            return redirect("manage:message-template", kind=kind)
    shown = service
    if previewing and form.is_valid():  # what was typed, before it is saved
        shown = Service(service.everyday_name, service.clinical_names,
                        {**service.templates, kind: rules.Template(
                            form.cleaned_data["subject"], form.cleaned_data["text"],
                            form.cleaned_data["body"])}, service.full_name)
    return render(request, "reminders/template_page.html", {
        "form": form, "stale": stale, "kind": kind, "title": KINDS[kind], "saved": saved,
        "previewing": previewing,
        "placeholders": rules.PLACEHOLDERS, "previews": previews(kind, shown)})
