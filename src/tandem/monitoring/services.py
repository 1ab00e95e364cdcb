"""Raising flags. A flag is raised once per piece of evidence (the unique evidence key), so
evaluating the same data twice never duplicates it."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.audit.trail import record_request
from tandem.monitoring.models import Contact, Flag, FlagStatus, Severity

# What the care team should do about an urgent safety answer, shown with the flag until a
# service writes its own escalation steps.
SAFETY_STEPS = (
    "Contact the patient today. If you cannot reach them, follow the service's escalation "
    "procedure (duty worker, then the crisis team; 999 if life is at risk). Record what you "
    "did when you resolve this flag."
)


def raise_flag(*, patient, rule: str, evidence_key: str, severity: str, evidence: str,
               suggested_action: str = "", response=None) -> tuple[Flag, bool]:
    """The open or earlier flag for this evidence, or a new one. Returns (flag, created)."""
    existing = Flag.objects.filter(patient=patient, rule=rule, evidence_key=evidence_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            flag = Flag.objects.create(
                organisation_id=patient.organisation_id, patient=patient, rule=rule,
                evidence_key=evidence_key, severity=severity, evidence=evidence,
                suggested_action=suggested_action, response=response,
            )
    except IntegrityError:  # raised at the same moment by another request
        return Flag.objects.get(patient=patient, rule=rule, evidence_key=evidence_key), False
    return flag, True


def escalation_steps(organisation_id) -> str:
    """The service's own escalation steps for safety answers, or Tandem's default."""
    from tandem.monitoring.models import RuleSetting

    own = (RuleSetting.objects.filter(organisation_id=organisation_id, rule="safety-answer")
           .values_list("suggested_action", flat=True).first())
    return (own or "").strip() or SAFETY_STEPS


def safety_flag(organisation_id, patient_id, response_id, instrument, rule,
                value_text: str, steps: str = SAFETY_STEPS) -> Flag:
    """The urgent flag (unsaved) for an answer that meets a safety rule."""
    return Flag(
        organisation_id=organisation_id,
        patient_id=patient_id,
        rule="safety-answer",
        evidence_key=f"{response_id}:{rule.item}",
        severity=Severity.URGENT,
        evidence=f"{instrument.name}, question {rule.item}: {rule.message} "
        f"(answered “{value_text}”).",
        suggested_action=steps,
        response_id=response_id,
    )


def raise_safety_flag(response, instrument, rule, value_text: str) -> tuple[Flag, bool]:
    flag = safety_flag(response.organisation_id, response.patient_id, response.pk, instrument,
                       rule, value_text, escalation_steps(response.organisation_id))
    return raise_flag(
        patient=response.patient, rule=flag.rule, evidence_key=flag.evidence_key,
        severity=flag.severity, evidence=flag.evidence, suggested_action=flag.suggested_action,
        response=response,
    )


# Rules whose evidence belongs to one episode (its check-up schedule, its contact).
EPISODE_RULES = ("checkup-overdue", "no-contact")


def open_flags(patient):
    return patient.flags.filter(status=FlagStatus.ACTIVE)


def acknowledge(request, flag: Flag) -> Flag:
    """A practitioner has seen the flag and is dealing with it (it stays open)."""
    if flag.acknowledged_at is None and flag.is_open:
        flag.acknowledged_at, flag.acknowledged_by = timezone.now(), request.user
        flag.save(update_fields=["acknowledged_at", "acknowledged_by"])
        record_request(request, "update", patient=flag.patient, obj=flag)
    return flag


def resolve(request, flag: Flag, action_taken: str, *, in_error: bool = False) -> Flag:
    """Close the flag with what was done (required); it stays in the history. `in_error`:
    the flag should never have been raised (FHIR status entered-in-error)."""
    if not action_taken.strip():
        raise ValueError("action_taken is required")
    now = timezone.now()
    if flag.acknowledged_at is None:
        flag.acknowledged_at, flag.acknowledged_by = now, request.user
    flag.status = FlagStatus.ENTERED_IN_ERROR if in_error else FlagStatus.INACTIVE
    flag.resolved_at, flag.resolved_by = now, request.user
    flag.action_taken = action_taken.strip()
    flag.save()
    record_request(request, "update", patient=flag.patient, obj=flag)
    return flag


def record_contact(request, patient, form) -> Contact:
    contact = form.save(commit=False)
    contact.organisation_id = patient.organisation_id
    contact.patient = patient
    contact.recorded_by = request.user
    contact.save()
    record_request(request, "create", patient=patient, obj=contact)
    return contact


@transaction.atomic
def reengage(request, patient, form, flag: Flag | None = None):
    """Open a new episode for someone who left treatment: the post-exit monitoring episode
    closes, the care team stays, the last plan comes across as a draft, history is kept."""
    from tandem.patients.services import start_episode
    from tandem.planning.care_plan import carry_over

    episode = start_episode(request, patient, form)
    plan = carry_over(request, patient, episode) if form.cleaned_data.get("carry_plan") else None
    done = f"Re-engaged: a new episode started on {episode.start_date:%-d %B %Y}."
    # The flag that prompted it, and those about the old episode's schedule and contact (the
    # new episode starts its own), are dealt with; any other open flag stays for the team.
    stale = list(open_flags(patient).filter(rule__in=EPISODE_RULES))
    for item in ([flag] if flag is not None else []) + stale:
        item.refresh_from_db()
        if item.is_open:
            resolve(request, item, done)
    return episode, plan
