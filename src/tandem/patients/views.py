"""Staff pages for patients. Access was already decided by the permission layer; the patient
the URL names is on `request.patient`."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render

from tandem.accounts.permissions import staff_teams
from tandem.audit.actor import Actor
from tandem.patients import services
from tandem.patients.forms import (
    EndMemberForm,
    EpisodeForm,
    MemberForm,
    NewEpisodeForm,
    PatientForm,
)
from tandem.patients.models import CareTeamMember, Episode
from tandem.records import versioning


@transaction.atomic
def patient_new(request):
    form = PatientForm(
        request.POST or None,
        organisation=request.user.organisation,
        teams=staff_teams(request.user),
    )
    born = form.cleaned_data["date_of_birth"] if form.is_valid() else None
    episode_form = NewEpisodeForm(request.POST or None, prefix="episode", born=born)
    if request.method == "POST" and form.is_valid() and episode_form.is_valid():
        patient = services.register_patient(Actor.of(request), form, episode_form)
        messages.success(request, f"Registered {patient.name}.")
        return redirect("patients:detail", patient_id=patient.pk)
    return render(request, "patients/new.html", {"form": form, "episode_form": episode_form})


def _save_versioned(request, patient, form, make_form):
    """Save the form; None when saved. If someone else saved the record since the form was
    opened, nothing is saved: (the form again with everything typed, now carrying the current
    version; what changed) for the page to show."""
    try:
        services.save_changes(Actor.of(request), patient, form)
    except versioning.Stale as stale:
        return versioning.form_again(request, make_form, stale), stale
    return None


@transaction.atomic
def patient_edit(request, patient_id):
    patient = request.patient
    teams = staff_teams(request.user) | {patient.team_id}

    def make_form(data, instance):
        return PatientForm(data, instance=instance, organisation=request.user.organisation,
                           teams=teams)

    form, stale = make_form(request.POST or None, patient), None
    if request.method == "POST" and form.is_valid():
        if (refused := _save_versioned(request, patient, form, make_form)) is None:
            messages.success(request, "Details saved.")
            return redirect("patients:detail", patient_id=patient.pk)
        form, stale = refused
    return render(request, "patients/edit.html",
                  {"form": form, "patient": stale.current if stale else patient,
                   "stale": stale})


@transaction.atomic
def episode_new(request, patient_id):
    patient = request.patient
    form = NewEpisodeForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        services.start_episode(Actor.of(request), patient, form)
        messages.success(request, "New episode started.")
        return redirect("patients:detail", patient_id=patient.pk)
    return render(request, "patients/episode_new.html", {"form": form, "patient": patient})


@transaction.atomic
def episode_edit(request, patient_id, episode_id):
    patient = request.patient
    episode = get_object_or_404(Episode, pk=episode_id, patient=patient)

    def make_form(data, instance):
        return EpisodeForm(data, instance=instance)

    form, stale = make_form(request.POST or None, episode), None
    if request.method == "POST" and form.is_valid():
        if (refused := _save_versioned(request, patient, form, make_form)) is None:
            messages.success(request, "Episode saved.")
            return redirect("patients:detail", patient_id=patient.pk)
        form, stale = refused
    return render(
        request, "patients/episode_edit.html",
        {"form": form, "patient": patient, "episode": stale.current if stale else episode,
         "stale": stale},
    )


@transaction.atomic
def member_new(request, patient_id):
    patient = request.patient
    form = MemberForm(request.POST or None, organisation=patient.organisation, patient=patient)
    if request.method == "POST" and form.is_valid():
        member = services.add_member(Actor.of(request), patient, form)
        messages.success(request, f"Added {member.person_name} to the care team.")
        return redirect("patients:detail", patient_id=patient.pk)
    return render(request, "patients/member_new.html", {"form": form, "patient": patient})


@transaction.atomic
def member_end(request, patient_id, member_id):
    patient = request.patient
    member = get_object_or_404(
        CareTeamMember.objects.select_related("user"), pk=member_id, care_team__patient=patient
    )
    form, stale = EndMemberForm(request.POST or None, instance=member), None
    if request.method == "POST" and form.is_valid():
        refused = _save_versioned(request, patient, form,
                                  lambda data, instance: EndMemberForm(data, instance=instance))
        if refused is None:
            messages.success(request, f"{member.person_name} has left the care team.")
            return redirect("patients:detail", patient_id=patient.pk)
        form, stale = refused
    return render(request, "patients/member_end.html",
                  {"form": form, "patient": patient, "member": member, "stale": stale})

