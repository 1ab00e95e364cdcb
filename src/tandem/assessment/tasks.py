"""Background tasks of the assessment app, run by `tandem worker` (see monitoring/tasks.py)."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from tandem.accounts.models import Organisation
from tandem.assessment.schedules import refresh_schedules as refresh
from tandem.patients.models import Patient


@task()
def refresh_schedules(organisation_id: int, patient_ids: list[str] | None = None) -> int:
    """Recompute the next check-up of these patients (all the organisation's if None)."""
    org = Organisation.objects.get(pk=organisation_id)
    ids = patient_ids or list(Patient.objects.of(org).values_list("pk", flat=True))
    for start in range(0, len(ids), 2000):
        with transaction.atomic():
            refresh(org, ids[start:start + 2000])
    return len(ids)
