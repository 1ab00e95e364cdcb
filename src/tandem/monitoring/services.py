"""Raising flags. A flag is raised once per piece of evidence (the unique evidence key), so
evaluating the same data twice never duplicates it."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.accounts.changes import differences, record_change
from tandem.audit.actor import Actor
from tandem.audit.trail import record_by
from tandem.core import flags as flag_rules
from tandem.core.flags import RULES
from tandem.core.scoring import DECLINED, answer_text, safety_hits
from tandem.monitoring.forms import rule_values
from tandem.monitoring.models import Contact, Flag, FlagStatus, RuleSetting, Severity
from tandem.monitoring.tasks import after_change
from tandem.patients.services import start_episode
from tandem.planning.care_plan import carry_over

# What the care team should do about an urgent safety answer, shown with the flag until a
# service writes its own escalation steps.
SAFETY_STEPS = RULES["safety-answer"].suggested_action


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
    own = (RuleSetting.objects.of(organisation_id).filter(rule=SAFETY)
           .values_list("suggested_action", flat=True).first())
    return (own or "").strip() or SAFETY_STEPS


SAFETY = "safety-answer"
UNANSWERED = "safety-unanswered"


def safety_evidence(instrument, rule, value_text: str, later: str = "") -> str:
    return flag_rules.safety_evidence(instrument.name, rule.item, rule.message, value_text, later)


def safety_flag(organisation_id, patient_id, response_id, instrument, rule,
                value, value_text: str, steps: str = SAFETY_STEPS) -> Flag:
    """The urgent flag (unsaved) for an answer that meets a safety rule."""
    return Flag(
        organisation_id=organisation_id, patient_id=patient_id, rule=SAFETY,
        evidence_key=f"{response_id}:{rule.item}", severity=Severity.URGENT,
        evidence=safety_evidence(instrument, rule, value_text), suggested_action=steps,
        response_id=response_id, answer_value=float(value),
    )


def unanswered_flag(organisation_id, patient_id, response_id, instrument, item_id) -> Flag:
    """The high flag (unsaved) for a safety question the person chose not to answer."""
    spec = RULES[UNANSWERED]
    return Flag(
        organisation_id=organisation_id, patient_id=patient_id, rule=UNANSWERED,
        evidence_key=f"{response_id}:{item_id}:declined", severity=spec.severity,
        evidence=flag_rules.unanswered_evidence(instrument.name, item_id),
        suggested_action=spec.suggested_action, response_id=response_id,
    )


def check_safety(response, instrument, extra_rules) -> list[Flag]:
    """Apply the safety rules to the response's answers as they stand now, in the caller's
    transaction; returns the flags newly raised.

    For each safety question: an answer that meets a rule raises an urgent flag unless one is
    open (whose evidence then follows the latest answer) or the last resolved one was about
    an answer at least as bad; so a new or worse answer is never missed. A question the
    person chose not to answer raises a high flag to ask in person."""
    answers = response.answers
    hits: dict[str, object] = {}
    for rule in safety_hits(instrument, answers, extra_rules):
        hits.setdefault(rule.item, rule)  # the instrument's own rule first
    items = dict.fromkeys([r.item for r in [*instrument.safety, *extra_rules]])
    existing = list(Flag.objects.select_for_update().filter(
        response_id=response.pk, rule__in=[SAFETY, UNANSWERED]).order_by("raised_at"))
    steps = None
    raised = []
    for item_id in items:
        value = answers.get(item_id)
        declined_key = f"{response.pk}:{item_id}:declined"
        if value == DECLINED and not any(f.evidence_key == declined_key for f in existing):
            raised.append(unanswered_flag(response.organisation_id, response.patient_id,
                                          response.pk, instrument, item_id))
        mine = [f for f in existing if f.rule == SAFETY and (
            f.evidence_key == f"{response.pk}:{item_id}"
            or f.evidence_key.startswith(f"{response.pk}:{item_id}:"))]
        rule = hits.get(item_id)
        text = answer_text(instrument, item_id, value)
        still_open = [f for f in mine if f.is_open]
        if still_open:
            flag = still_open[-1]
            if rule is not None:
                evidence, worth = safety_evidence(instrument, rule, text), float(value)
            else:  # lowered below the rule, cleared or declined: what was said, and the change
                said = flag.evidence.rsplit("(answered “", 1)[-1].split("”", 1)[0]
                rule_then = next(r for r in [*instrument.safety, *extra_rules]
                                 if r.item == item_id)
                evidence = safety_evidence(instrument, rule_then, said, later=text)
                # Once resolved like this, the flag was about the answer as it now stands, so
                # any answer meeting the rule again raises a new flag.
                worth = float(value) if _number(value) else BELOW_ANY
            if (evidence, worth) != (flag.evidence, flag.answer_value):
                flag.evidence, flag.answer_value = evidence, worth
                flag.updated_at = timezone.now()
                flag.save(update_fields=["evidence", "answer_value", "updated_at"])
            continue
        if rule is None:
            continue
        last = mine[-1] if mine else None
        if last is not None and not _worse(float(value), text, last, instrument, rule):
            continue
        steps = steps if steps is not None else escalation_steps(response.organisation_id)
        flag = safety_flag(response.organisation_id, response.patient_id, response.pk,
                           instrument, rule, value, text, steps)
        if mine:
            flag.evidence_key = f"{response.pk}:{item_id}:{len(mine) + 1}"
        raised.append(flag)
    saved = []
    for flag in raised:
        try:
            with transaction.atomic():  # a savepoint: the answers are kept whatever happens
                flag.save(force_insert=True)
        except IntegrityError:  # raised at the same moment by another request
            continue
        saved.append(flag)
    return saved


# The value a safety flag is about once its answer was cleared or declined: below any answer.
BELOW_ANY = -1e9


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _worse(value: float, text: str, last: Flag, instrument, rule) -> bool:
    """Is this answer worse than the one the last resolved flag was about?"""
    if last.answer_value is not None:
        return value > last.answer_value
    # A flag from before answer values were kept: any different answer counts as new.
    return safety_evidence(instrument, rule, text) != last.evidence


# Rules whose evidence belongs to one episode (its check-up schedule, its contact).
EPISODE_RULES = ("checkup-overdue", "no-contact")


def open_flags(patient):
    return patient.flags.filter(status=FlagStatus.ACTIVE)


def acknowledge(actor: Actor, flag: Flag) -> Flag:
    """A practitioner has seen the flag and is dealing with it (it stays open)."""
    if flag.acknowledged_at is None and flag.is_open:
        flag.acknowledged_at, flag.acknowledged_by = timezone.now(), actor.user
        flag.save(update_fields=["acknowledged_at", "acknowledged_by"])
        record_by(actor, "update", patient=flag.patient, obj=flag)
    return flag


def resolve(actor: Actor, flag: Flag, action_taken: str, *, in_error: bool = False) -> Flag:
    """Close the flag with what was done (required); it stays in the history. `in_error`:
    the flag should never have been raised (FHIR status entered-in-error)."""
    if not action_taken.strip():
        raise ValueError("action_taken is required")
    now = timezone.now()
    if flag.acknowledged_at is None:
        flag.acknowledged_at, flag.acknowledged_by = now, actor.user
    flag.status = FlagStatus.ENTERED_IN_ERROR if in_error else FlagStatus.INACTIVE
    flag.resolved_at, flag.resolved_by = now, actor.user
    flag.action_taken = action_taken.strip()
    flag.save()
    record_by(actor, "update", patient=flag.patient, obj=flag)
    return flag


def record_contact(actor: Actor, patient, form) -> Contact:
    contact = form.save(commit=False)
    contact.organisation_id = patient.organisation_id
    contact.patient = patient
    contact.recorded_by = actor.user
    contact.save()
    record_by(actor, "create", patient=patient, obj=contact)
    after_change(patient.organisation_id, [patient.pk], now=True)  # may end "no contact"
    return contact


@transaction.atomic
def reengage(actor: Actor, patient, form, flag: Flag | None = None):
    """Open a new episode for someone who left treatment: the post-exit monitoring episode
    closes, the care team stays, the last plan comes across as a draft, history is kept."""
    episode = start_episode(actor, patient, form)
    plan = carry_over(actor, patient, episode) if form.cleaned_data.get("carry_plan") else None
    done = f"Re-engaged: a new episode started on {episode.start_date:%-d %B %Y}."
    # The flag that prompted it, and those about the old episode's schedule and contact (the
    # new episode starts its own), are dealt with; any other open flag stays for the team.
    stale = list(open_flags(patient).filter(rule__in=EPISODE_RULES))
    for item in ([flag] if flag is not None else []) + stale:
        item.refresh_from_db()
        if item.is_open:
            resolve(actor, item, done)
    return episode, plan


def save_rule_settings(actor: Actor, forms, before: dict, versions: dict) -> None:
    """Save each early-warning rule's validated form whose values changed, over the version
    the page was opened at (checked by the page), each audited with what changed."""
    for form in forms:
        code = form.spec.code
        setting = form.save(commit=False)
        changes = differences((label, before[code][label], value)
                              for label, value in rule_values(setting, form.spec).items())
        if changes:
            setting.version = versions[code] + 1
            setting.save()
            record_change(actor, "update", setting, [f"{code}: {', '.join(changes)}"])
