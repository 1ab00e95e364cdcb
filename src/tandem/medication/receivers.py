"""What the medication app adds to the pages of apps below it (they cannot import it)."""

from django.utils import timezone

from tandem.core import dosing
from tandem.medication import doses, registry
from tandem.medication.forms import per
from tandem.medication.models import MedicationPlan, PlanStatus
from tandem.patients import events as patient_events
from tandem.patients.models import EpisodeStatus
from tandem.planning import events as planning_events


def print_panel(sender, patient, **kwargs) -> dict | None:
    """Receiver of planning.events.plan_printing: the current medication plan on the
    printable recovery plan, in the patient's words, with the not-a-prescription line."""
    plan = MedicationPlan.objects.filter(patient=patient, status=PlanStatus.ACTIVE).first()
    medicine = registry.get(plan.medicine) if plan is not None else None
    if medicine is None:
        return None
    ledger = [dosing.Change(day, dose) for day, dose in
              plan.doses.filter(cancelled_at__isnull=True).order_by("day", "made_at")
              .values_list("day", "dose")]
    held = dosing.current_dose(ledger, timezone.localdate())
    return {"template": "medication/staff/print_panel.html", "plan": plan, "medicine": medicine,
            "dose": held.dose if held else None, "per": per(medicine)}


def episode_changed(sender, *, patient, actor=None, **kwargs) -> None:
    """Receiver of patients.events.episode_changed: a closed episode's current medication plan
    stops (in the name of whoever closed it), so no dose is asked for or set on it any more.
    Post-exit monitoring keeps the plan."""
    if actor is None:
        return
    for plan in (MedicationPlan.objects.filter(patient=patient, status=PlanStatus.ACTIVE,
                                               episode__status=EpisodeStatus.FINISHED)
                 .select_related("episode")):
        closed = plan.episode.closed_date or timezone.localdate()
        doses.stop_plan(actor, plan, plan.version,
                        f"The episode of care closed on {dosing.day_text(closed)}.")


def connect() -> None:
    planning_events.plan_printing.connect(print_panel, dispatch_uid="medication-print-panel")
    patient_events.episode_changed.connect(episode_changed,
                                           dispatch_uid="medication-episode-closed")
