"""Changes to patients, episodes and care teams, shared by the web pages and the API.

Each function takes who is acting (an `Actor`: the pages and the API build one from the
request) and forms that were validated (the forms hold the rules, so web and API validate
identically), makes the change, and writes its audit events.
"""

from __future__ import annotations

from django.utils import timezone

from tandem.accounts.models import Role
from tandem.accounts.permissions import roles_of
from tandem.audit.actor import Actor
from tandem.audit.trail import record_by
from tandem.core.errors import Invalid
from tandem.patients import events
from tandem.patients.models import (
    OPEN_STATUSES,
    CareRole,
    CareTeam,
    CareTeamMember,
    Episode,
    EpisodeStatus,
    Patient,
)
from tandem.records import versioning


def current_episode(patient):
    """The patient's latest open episode (in treatment or post-exit monitoring), or None."""
    return patient.episodes.filter(status__in=OPEN_STATUSES).order_by("-start_date").first()


def check(form, loc=("body",), rename: dict[str, str] | None = None):
    """Raise Invalid with one entry per field message if the form does not validate."""
    if form.is_valid():
        return form.cleaned_data
    rename = rename or {}
    errors = []
    for field, messages in form.errors.items():
        name = rename.get(field, field)
        where = [*loc, name] if field != "__all__" else list(loc)
        errors += [{"loc": where, "msg": str(m)} for m in messages]
    raise Invalid(errors)


def register_patient(actor: Actor, patient_form, episode_form):
    org = actor.user.organisation
    born = patient_form.cleaned_data["date_of_birth"]
    if episode_form.cleaned_data["start_date"] < born:
        # The web page gives the episode form the birth date (it says so by the field); a
        # caller that did not is answered here, before anything is saved.
        raise Invalid([{"loc": ["body", "episode_start_date"],
                        "msg": f"The start date is before the patient was born "
                               f"({born.day} {born:%B %Y})."}])
    patient = patient_form.save()
    care_team = CareTeam.objects.create(organisation=org, patient=patient)
    episode = Episode.objects.create(
        organisation=org,
        patient=patient,
        start_date=episode_form.cleaned_data["start_date"],
        setting=episode_form.cleaned_data["setting"],
    )
    if Role.PRACTITIONER in roles_of(actor.user):
        CareTeamMember.objects.create(
            organisation=org,
            care_team=care_team,
            user=actor.user,
            role=CareRole.KEYWORKER,
            start_date=min(episode.start_date, timezone.localdate()),
        )
    record_by(actor, "create", patient=patient, obj=patient)
    events.episode_changed.send(Episode, patient=patient, actor=actor)
    return patient


def start_episode(actor: Actor, patient, episode_form) -> Episode:
    """Open a new episode. A re-entry closes the post-exit monitoring episode; history stays."""
    start = episode_form.cleaned_data["start_date"]
    for previous in patient.episodes.filter(status=EpisodeStatus.MONITORING):
        previous.status = EpisodeStatus.FINISHED
        previous.closed_date = start
        versioning.bump(previous, ["status", "closed_date"])  # an open edit form is now stale
        record_by(actor, "update", patient=patient, obj=previous)
    episode = Episode.objects.create(
        organisation=patient.organisation,
        patient=patient,
        start_date=start,
        setting=episode_form.cleaned_data["setting"],
    )
    record_by(actor, "create", patient=patient, obj=episode)
    events.episode_changed.send(Episode, patient=patient, actor=actor)
    return episode


def add_member(actor: Actor, patient, member_form) -> CareTeamMember:
    care_team, _ = CareTeam.objects.get_or_create(
        patient=patient, defaults={"organisation": patient.organisation}
    )
    member = member_form.save(commit=False)
    member.organisation = patient.organisation
    member.care_team = care_team
    member.save()
    record_by(actor, "create", patient=patient, obj=member)
    return member


def save_changes(actor: Actor, patient, form):
    """Save a validated ModelForm (a VersionedForm) that changes this patient's record, and
    audit it. Raises versioning.Stale, saving nothing, if someone saved the record since the
    version the form was opened at."""
    obj = versioning.save(form, actor, patient=patient)
    if isinstance(obj, Episode):
        # an exit or a status change moves the check-up schedule
        events.episode_changed.send(Episode, patient=patient, actor=actor)
    if isinstance(obj, Patient) and obj.do_not_contact and "do_not_contact" in form.changed_data:
        events.contact_stopped.send(Patient, patient=obj)
    return obj
