"""What the assessment app does when the patients app announces something (patients.events):
an episode started, changed or ended moves the patient's check-up schedule."""

from __future__ import annotations

from tandem.assessment.schedules import refresh_schedule
from tandem.patients import events as patient_events


def episode_changed(sender, *, patient, **kwargs) -> None:
    refresh_schedule(patient)


def connect() -> None:
    patient_events.episode_changed.connect(episode_changed, dispatch_uid="assessment-episode")
