"""Versioned saves: two people changing one record at once never silently overwrite each other.

A versioned model takes its `version` from `tandem.records.models.Versioned`; its form
(`VersionedForm`) carries the version it was opened at in a hidden field, and an API call
sends it. `save` moves
the row from that version to the next in one conditional statement
(`UPDATE … SET version = version + 1 WHERE id = … AND version = n`), so of two saves started
from the same version exactly one wins, on SQLite and PostgreSQL alike. The other raises
`Stale`, having written nothing, with each field whose saved value now differs from what was
submitted (`Change`); the page shows them and keeps what was typed, the API answers 409.

`save` is the one way a form's change to a versioned record is saved (patients, episodes,
care-team members, goals, plans, plan actions, teams): it checks the version, bumps it, stamps
who changed it and when (on models that keep `updated_by`/`updated_at`), writes the audit
event, and raises `Stale` for a conflict. Every other write to a versioned row bumps its version
too (`bump`), so an open form notices it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django import forms
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import capfirst

from tandem.audit.actor import Actor
from tandem.audit.trail import record_by

# The largest version the column holds on every database (a PositiveIntegerField).
MAX_VERSION = 2**31 - 1


class VersionedForm(forms.Form):
    """Mix into a ModelForm (first among its bases): the version of the row the form was opened
    at, 0 when there was no row yet (a settings page whose row is made by its first save)."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0,
                                 max_value=MAX_VERSION)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("version", 0 if self.instance._state.adding
                                else self.instance.version)


@dataclass(frozen=True)
class Change:
    """One field whose saved value differs from what this person submitted."""

    field: str
    label: str
    saved: object  # plain values (str, int, bool, ISO date or None), as the API sends them
    yours: object
    saved_text: str  # the same in words, as a page shows them
    yours_text: str


class Stale(Exception):
    """Someone saved the record after the version this save started from; nothing was saved."""

    def __init__(self, current: models.Model, changes: list[Change]):
        super().__init__(f"{current._meta.verbose_name} changed since the version submitted")
        self.current = current
        self.changes = changes


def save(form: forms.ModelForm, actor: Actor | None = None, *, patient=None,
         fields: Iterable[str] | None = None) -> models.Model:
    """Save a validated ModelForm (a VersionedForm): a new record at version 1, or over an
    existing row if the row is still at the version the form carries (else raise Stale,
    having written nothing). `fields` are the columns the form writes (its `saves_fields`,
    else its own fields), so nothing else on the row is overwritten. With an `actor`, the
    record is stamped as changed by them now (if its model keeps that) and the change is
    audited ("create" or "update", with the patient whose record it is); without one the
    caller audits (the account pages, whose events say what changed)."""
    obj = form.save(commit=False)
    creating = obj._state.adding
    stamped = _stamp(obj, actor)
    with transaction.atomic():
        if creating:
            obj.version = 1
            obj.save(force_insert=True)
        else:
            version = form.cleaned_data.get("version")
            if version is None or not claim(obj, version):
                current = type(obj)._default_manager.get(pk=obj.pk)
                raise Stale(current, differences(form, current))
            obj.version = version + 1
            fields = fields or getattr(form, "saves_fields", None) or form._meta.fields
            obj.save(update_fields=[*fields, *stamped, "version"])
        if actor is not None:
            record_by(actor, "create" if creating else "update", patient=patient, obj=obj)
    return obj


def _stamp(obj: models.Model, actor: Actor | None) -> list[str]:
    """Mark the record as changed by the actor now, where its model keeps that."""
    names = {f.name for f in obj._meta.concrete_fields}
    if actor is None or not {"updated_by", "updated_at"} <= names:
        return []
    obj.updated_by, obj.updated_at = actor.user, timezone.now()
    return ["updated_by", "updated_at"]


def form_again(request, make_form, stale: Stale) -> forms.Form:
    """After a save refused as stale: the form once more with everything typed, now carrying
    the version saved, and validated so the page shows it as posted. `make_form(data,
    instance)` builds the page's form."""
    data = request.POST.copy()
    data["version"] = str(stale.current.version)
    form = make_form(data, stale.current)
    form.is_valid()
    return form


def claim(obj: models.Model, version: int) -> bool:
    """Move the row from `version` to the next; False if it is no longer at `version`."""
    return bool(type(obj)._default_manager.filter(pk=obj.pk, version=version)
                .update(version=F("version") + 1))


def bump(obj: models.Model, update_fields: Iterable[str]) -> None:
    """Save the named fields of a versioned row and move it to its next version (for writes
    that do not come from a form the person opened, such as a re-entry closing an episode)."""
    obj.version = F("version") + 1
    obj.save(update_fields=[*update_fields, "version"])
    obj.refresh_from_db(fields=["version"])


def differences(form: forms.ModelForm, current: models.Model) -> list[Change]:
    """Each of the form's model fields whose saved value differs from what was submitted."""
    found = []
    for name, field in form.fields.items():
        if name not in form._meta.fields:
            continue
        model_field = current._meta.get_field(name)
        saved = getattr(current, model_field.attname)
        typed = form.cleaned_data.get(name)
        yours = typed.pk if isinstance(typed, models.Model) else typed
        if _plain(saved) == _plain(yours):
            continue
        found.append(Change(
            field=name, label=str(field.label or capfirst(model_field.verbose_name)),
            saved=_plain(saved), yours=_plain(yours),
            saved_text=_text(field, getattr(current, name)), yours_text=_text(field, typed)))
    return found


def _plain(value):
    if isinstance(value, datetime.date):
        return value.isoformat()
    return None if value == "" else value


def _text(field: forms.Field, value) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime.date):
        return f"{value.day} {value:%B %Y}"
    if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
        return str(dict(field.choices).get(value, value))
    return str(value)
