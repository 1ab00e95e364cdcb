"""Messages about something that just happened, for the patients who want them: an answer to
a change they proposed in their plan, an answer to their dose request. Written in the same
transaction as the answer (tandem.reminders.planner.send_now); the worker sends them in the
patient's window. And a check-up done withdraws its invitations still waiting."""

from __future__ import annotations

from django.dispatch import receiver
from django.urls import reverse

from tandem.assessment import events as assessment
from tandem.medication import events as medication
from tandem.planning import events as planning
from tandem.reminders import planner, waiting


@receiver(planning.proposal_answered)
def change_answered(sender, proposal, **kwargs):
    planner.send_now(proposal.plan.patient, "change-answered",
                     key=f"change-answered:{proposal.pk}", link=reverse("portal:plan"))


@receiver(medication.request_answered)
def dose_request_answered(sender, request, **kwargs):
    if request.status in ("approved", "declined"):  # answered by the prescriber
        planner.send_now(request.plan.patient, "dose-request-answered",
                         key=f"dose-request-answered:{request.pk}:{request.status}",
                         link=reverse("portal:medication"))


@receiver(assessment.checkups_completed)
def checkup_done(sender, organisation_id, patient_ids, **kwargs):
    waiting.after_checkups(patient_ids)
