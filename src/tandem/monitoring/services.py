"""Raising flags. A flag is raised once per piece of evidence (the unique evidence key), so
evaluating the same data twice never duplicates it."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from tandem.monitoring.models import Flag, FlagStatus, Severity

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


def safety_flag(organisation_id, patient_id, response_id, instrument, rule,
                value_text: str) -> Flag:
    """The urgent flag (unsaved) for an answer that meets a safety rule."""
    return Flag(
        organisation_id=organisation_id,
        patient_id=patient_id,
        rule="safety-answer",
        evidence_key=f"{response_id}:{rule.item}",
        severity=Severity.URGENT,
        evidence=f"{instrument.name}, question {rule.item}: {rule.message} "
        f"(answered “{value_text}”).",
        suggested_action=SAFETY_STEPS,
        response_id=response_id,
    )


def raise_safety_flag(response, instrument, rule, value_text: str) -> tuple[Flag, bool]:
    flag = safety_flag(response.organisation_id, response.patient_id, response.pk, instrument,
                       rule, value_text)
    return raise_flag(
        patient=response.patient, rule=flag.rule, evidence_key=flag.evidence_key,
        severity=flag.severity, evidence=flag.evidence, suggested_action=flag.suggested_action,
        response=response,
    )


def open_flags(patient):
    return patient.flags.filter(status=FlagStatus.ACTIVE)
