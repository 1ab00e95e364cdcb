"""Keep each patient's caseload entry (patients.models.CaseloadEntry) in step with every save and
delete of what it summarises. Bulk writes (bulk_create, bulk.insert_many/update_many) send no
model signals: their callers announce `patients.events.records_changed` instead, which this
app receives too."""

from __future__ import annotations

from django.apps import apps
from django.db import connections
from django.db.models.signals import post_delete, post_migrate, post_save

from tandem.assessment.models import CheckupSchedule
from tandem.caseload import entries as caseload
from tandem.monitoring.models import Flag
from tandem.patients import events
from tandem.patients.models import CareTeam, CareTeamMember, CaseloadEntry, Episode, Patient
from tandem.planning.models import CarePlan, PlanVersion


def _patient_changed(sender, instance, **kwargs):
    caseload.refresh([instance.pk])


def _part_changed(sender, instance, origin=None, **kwargs):
    if not isinstance(origin, Patient):  # the patient's own deletion takes the entry with it
        caseload.refresh([instance.patient_id])


def _version_changed(sender, instance, origin=None, **kwargs):
    if isinstance(origin, Patient):
        return
    caseload.refresh(CarePlan.objects.filter(pk=instance.plan_id).values_list("patient_id",
                                                                             flat=True))


def _member_changed(sender, instance, origin=None, **kwargs):
    if isinstance(origin, Patient):
        return
    caseload.refresh(CareTeam.objects.filter(pk=instance.care_team_id).values_list("patient_id",
                                                                              flat=True))


def _fill_after_migrate(sender, using="default", **kwargs):
    """Give every patient an entry when the table is new (the first migrate after an upgrade)."""
    connection = connections[using]
    if CaseloadEntry._meta.db_table not in connection.introspection.table_names():
        return  # migrated back to before the table
    if CaseloadEntry.objects.using(using).count() != Patient.objects.using(using).count():
        caseload.refresh()


def _records_changed(sender, *, patient_ids=None, **kwargs):
    caseload.refresh(patient_ids)


def connect() -> None:
    # The table is the patients app's (the caseload app has no models of its own).
    post_migrate.connect(_fill_after_migrate, sender=apps.get_app_config("patients"),
                         dispatch_uid="caseload-fill")
    events.records_changed.connect(_records_changed, dispatch_uid="caseload-records-changed")
    for signal in (post_save, post_delete):
        signal.connect(_patient_changed, sender=Patient, dispatch_uid=f"caseload-{signal}")
        for model in (Episode, Flag, CheckupSchedule, CarePlan):
            signal.connect(_part_changed, sender=model,
                           dispatch_uid=f"caseload-{model.__name__}-{signal}")
        signal.connect(_version_changed, sender=PlanVersion, dispatch_uid=f"caseload-v-{signal}")
        signal.connect(_member_changed, sender=CareTeamMember,
                       dispatch_uid=f"caseload-m-{signal}")
