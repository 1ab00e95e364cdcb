"""The service admin's check-up settings, saved and audited: the check-up schedule, uploaded
questionnaires, and the rows of the settings pages (crisis contacts, life-domain cards,
answers marked urgent). The pages (views/admin.py) check versions and show conflicts."""

from __future__ import annotations

from tandem.accounts.changes import differences, record_change
from tandem.assessment.models import CheckupSettings, UploadedInstrument
from tandem.assessment.tasks import refresh_schedules
from tandem.audit.actor import Actor
from tandem.core.instruments import Instrument


def label_of(model, name: str) -> str:
    return str(model._meta.get_field(name).verbose_name)


# Short words for the audit trail (an event's summary has 200 characters).
SETTINGS_WORDS = {"interval_weeks": "weeks between check-ups",
                  "post_exit_every_months": "months between check-ups after exit",
                  "post_exit_for_months": "months of check-ups after exit",
                  "instruments": "questionnaires"}


def settings_values(settings: CheckupSettings) -> dict:
    return {"interval_weeks": settings.interval_weeks,
            "post_exit_every_months": settings.post_exit_every_months,
            "post_exit_for_months": settings.post_exit_for_months,
            "instruments": settings.instrument_codes()}


def save_settings(actor: Actor, form, version: int, before: dict) -> CheckupSettings:
    """Save the check-up schedule the form holds over `version` (0: none saved yet), audit
    what changed, and have the worker recompute every patient's next check-up."""
    saved = form.save(commit=False)
    saved.version = version + 1
    saved.save()
    changes = differences((SETTINGS_WORDS[name], before[name], value)
                          for name, value in settings_values(saved).items())
    if changes:
        record_change(actor, "update", saved, changes)
    refresh_schedules.enqueue(saved.organisation_id)
    return saved


def upload(actor: Actor, instrument: Instrument, definition: dict) -> UploadedInstrument:
    """Keep a questionnaire the service uploaded, audited."""
    uploaded = UploadedInstrument.objects.create(
        organisation_id=actor.organisation_id, code=instrument.code,
        version=instrument.version, title=instrument.title, definition=definition,
        uploaded_by=actor.user)
    record_change(actor, "create", uploaded, [f"{instrument.code} version {instrument.version}"],
                  prefix="uploaded: ")
    return uploaded


def save_rows(actor: Actor, formset, model, fields, current) -> None:
    """Save a settings page's rows (each changed row's version goes up), audited with what
    changed, in words."""
    changes = []
    for obj in formset.save(commit=False):
        obj.organisation_id = actor.organisation_id
        old = current.get(obj.pk)
        if old is None:
            changes.append(f"added {obj}")
        else:
            obj.version = old.version + 1
            detail = differences((label_of(model, name), getattr(old, name), getattr(obj, name))
                                 for name in fields)
            if detail:
                changes.append(f"{old}: {', '.join(detail)}")
        obj.save()
    for obj in formset.deleted_objects:
        changes.append(f"removed {obj}")
        obj.delete()
    if changes:
        record_change(actor, "update", None, changes, object_type=model._meta.model_name)

