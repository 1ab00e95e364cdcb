"""A service admin's changes to staff accounts, their roles and teams, and to teams: each done
by an `Actor` (the pages build one from the request) and recorded in the audit trail with
what it changed (tandem.accounts.changes).

Each function takes a form that was validated (the forms hold the rules); the emails that
follow a change (a welcome link, telling an old address) are the pages' to send, once the
change has committed (accounts.views)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tandem.accounts.changes import difference, differences, record_change
from tandem.accounts.forms import SNAPSHOT_LABELS, TEAM_ROLES, TeamForm, UserForm, snapshot
from tandem.accounts.models import Role, RoleGrant, Team, User
from tandem.audit.actor import Actor
from tandem.records import versioning


@transaction.atomic
def save_user(actor: Actor, form: UserForm) -> User:
    """Create a staff account (with no password: they set their own from the emailed link) or
    save the changes to one, with its roles and teams, and audit what changed.

    Nobody changes their own roles, teams or active state: for the actor's own account they
    are left as they are. Raises versioning.Stale, saving nothing, if someone saved the
    account (or its roles and teams) since the version the form was opened at."""
    user = form.save(commit=False)
    user.organisation = form.organisation
    own = form.own or (user.pk is not None and user.pk == actor.user.pk)
    new = user.pk is None
    if new:
        user.set_unusable_password()  # they set their own from the emailed link
        user.save()
    else:
        version = form.cleaned_data.get("version")
        if version is None or not versioning.claim(user, version):
            current = User.objects.get(pk=user.pk)
            raise versioning.Stale(current, versioning.differences(form, current)
                                   + form.grant_differences(current))
        user.version = version + 1
        # An admin moving someone else's address (not a change of letter case) holds resets
        # to it for a day and is told at their next sign-in.
        if not own and user.email.lower() != (form.before["email"] or "").lower():
            user.email_changed_at = timezone.now()
            user.email_changed_from = form.before["email"]
        user.save(update_fields=[
            *(name for name in form._meta.fields if name in form.fields), "version",
            "email_changed_at", "email_changed_from"])
    if not own:
        _grant(user, form.organisation, set(form.cleaned_data["roles"]),
               list(form.cleaned_data.get("teams") or []), form.before)
    before = form.before or {}
    after = snapshot(user)
    changes = differences(
        (label, before.get(key), after[key]) for key, label in SNAPSHOT_LABELS)
    if new:
        record_change(actor, "create", user, changes, prefix="created: ")
    elif changes:
        record_change(actor, "update", user, changes)
    return user


def _grant(user: User, organisation, roles: set, teams: list[Team], before: dict | None):
    """Give the account these staff roles, the team roles within these teams (its patient
    role, if any, is kept), unless they are the ones it has."""
    before = before or {"roles": set(), "teams": set()}
    if roles == before["roles"] and {t.name for t in teams} == before["teams"]:
        return
    user.grants.exclude(role=Role.PATIENT).delete()
    grants = []
    for role in sorted(roles):
        if role in TEAM_ROLES:
            grants += [RoleGrant(organisation=organisation, user=user, role=role, team=t)
                       for t in teams]
        else:
            grants.append(RoleGrant(organisation=organisation, user=user, role=role))
    RoleGrant.objects.bulk_create(grants)  # checked: staff roles only


def link_sent(actor: Actor, user: User, kind: str) -> None:
    """Note on the account that a 'welcome' (set your password) or 'reset' link is being sent,
    and, for a reset, at whose request (told to them at their next sign-in)."""
    User.objects.filter(pk=user.pk).update(
        link_sent_at=timezone.now(),
        link_sent_by="" if kind == "welcome" else actor.user.get_username())


def reset_sent(actor: Actor, user: User) -> None:
    """Audit a password reset link sent to the account's address."""
    record_change(actor, "update", user, [user.email], prefix="password reset sent to ")


@transaction.atomic
def save_team(actor: Actor, form: TeamForm) -> Team:
    """Create a team, or rename one, and audit it. Raises versioning.Stale, saving nothing, if
    someone saved the team since the version the form was opened at."""
    new = form.instance._state.adding
    if new:
        form.instance.organisation = form.organisation
    team = versioning.save(form)  # audited below, saying what changed
    change = difference("name", form.name_before, team.name)
    if change:
        record_change(actor, "create" if new else "update", team, [change],
                      prefix="created: " if new else "changed: ")
    return team
