"""What the medication app adds to the pages of apps below it (they cannot import it)."""

from django.utils import timezone

from tandem.core import dosing
from tandem.medication import registry
from tandem.medication.forms import per
from tandem.medication.models import MedicationPlan, PlanStatus
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


def connect() -> None:
    planning_events.plan_printing.connect(print_panel, dispatch_uid="medication-print-panel")
