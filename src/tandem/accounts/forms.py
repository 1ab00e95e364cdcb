from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from tandem.accounts.changes import differences
from tandem.accounts.models import Role, RoleGrant, Team, User
from tandem.records import versioning
from tandem.records.versioning import VersionedForm

STAFF_ROLES = [(r.value, r.label) for r in Role if r != Role.PATIENT]
TEAM_ROLES = {Role.PRACTITIONER, Role.TEAM_LEAD}


class TeamForm(VersionedForm, forms.ModelForm):
    """A team's name. Saved over an existing team with `versioning.save`: a form opened
    before someone else's save saves nothing."""

    class Meta:
        model = Team
        fields = ["name"]

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        clash = Team.objects.filter(organisation=self.organisation, name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("A team with this name already exists.")
        return name

    def save(self, commit=True):
        self.instance.organisation = self.organisation
        return super().save(commit)


class UserForm(VersionedForm, forms.ModelForm):
    """Create or edit a staff account: details, roles and the teams they apply to.

    No password: a new person is emailed a link to set their own, and an admin can send a
    reset (views.password_reset); an admin never chooses anyone's password. Nobody changes
    their own roles, teams or active state: for their own account those fields are not offered,
    and posting them is refused. `changes` lists what a save changed, for the audit trail.

    Like every editable record (tandem.records.versioning), an account carries the version
    its form was opened at: a save from a form opened before another admin's save (or posted
    without a version) saves nothing and raises `versioning.Stale`, its changes including the
    roles and teams. An admin's change of the address is dated (views.password_reset)."""

    roles = forms.MultipleChoiceField(
        choices=STAFF_ROLES, widget=forms.CheckboxSelectMultiple, required=True
    )
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Practitioners and team leads work within these teams.",
    )

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "is_active"]

    def __init__(self, *args, organisation, editor, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.fields["teams"].queryset = Team.objects.filter(organisation=organisation)
        self.fields["first_name"].required = True
        self.fields["last_name"].required = True
        self.fields["email"].required = True
        self.fields["email"].help_text = (
            "Tandem emails the link to set a password here, and tells this address if it "
            "is changed.")
        self.own = self.instance.pk is not None and self.instance.pk == editor.pk
        self.before = snapshot(self.instance) if self.instance.pk else None
        self.changes: list[str] = []
        if self.own:
            for name in ("roles", "teams", "is_active"):
                del self.fields[name]
        elif self.before:
            self.initial["roles"] = sorted(self.before["roles"])
            self.initial["teams"] = sorted(
                g.team_id for g in self.instance.grants.all() if g.team_id)

    def clean(self):
        data = super().clean()
        if self.own and any(name in self.data for name in ("roles", "teams")):
            raise forms.ValidationError(
                "You cannot change your own roles or teams: another service admin can.")
        roles = set(data.get("roles") or [])
        if roles & TEAM_ROLES and not data.get("teams"):
            self.add_error("teams", "Choose at least one team for a practitioner or team lead.")
        return data

    @transaction.atomic
    def save(self, commit=True):
        user = super().save(commit=False)
        user.organisation = self.organisation
        if user.pk is None:
            user.set_unusable_password()  # they set their own from the emailed link
            user.save()
        else:
            version = self.cleaned_data.get("version")
            if version is None or not versioning.claim(user, version):
                current = User.objects.get(pk=user.pk)
                raise versioning.Stale(current, versioning.differences(self, current)
                                       + self.grant_differences(current))
            user.version = version + 1
            # An admin moving someone else's address (not a change of letter case) holds
            # resets to it for a day and is told at their next sign-in.
            if not self.own and user.email.lower() != (self.before["email"] or "").lower():
                user.email_changed_at = timezone.now()
                user.email_changed_from = self.before["email"]
            user.save(update_fields=[
                *(name for name in self._meta.fields if name in self.fields), "version",
                "email_changed_at", "email_changed_from"])
        if not self.own:
            roles = set(self.cleaned_data["roles"])
            teams = list(self.cleaned_data.get("teams") or [])
            before = self.before or {"roles": set(), "teams": set()}
            if roles != before["roles"] or {t.name for t in teams} != before["teams"]:
                user.grants.exclude(role=Role.PATIENT).delete()
                grants = []
                for role in sorted(roles):
                    if role in TEAM_ROLES:
                        grants += [RoleGrant(organisation=self.organisation, user=user,
                                             role=role, team=t) for t in teams]
                    else:
                        grants.append(RoleGrant(organisation=self.organisation, user=user,
                                                role=role))
                RoleGrant.objects.bulk_create(grants)  # checked: staff roles only
        before = self.before or {}
        after = snapshot(user)
        self.changes = differences(
            (label, before.get(key), after[key]) for key, label in SNAPSHOT_LABELS)
        return user

    def grant_differences(self, current: User) -> list[versioning.Change]:
        """The roles and teams saved now, where they differ from those submitted."""
        if self.own:
            return []
        saved = snapshot(current)
        role_names = dict(Role.choices)
        pairs = [("roles", "Roles", saved["roles"], set(self.cleaned_data["roles"]),
                  lambda codes: [role_names[c] for c in codes]),
                 ("teams", "Teams", saved["teams"],
                  {t.name for t in self.cleaned_data.get("teams") or []}, lambda names: names)]
        return [versioning.Change(field=field, label=label, saved=sorted(old),
                                  yours=sorted(new), saved_text=_listed(words(sorted(old))),
                                  yours_text=_listed(words(sorted(new))))
                for field, label, old, new, words in pairs if old != new]


def _listed(words) -> str:
    return ", ".join(words) or "—"


SNAPSHOT_LABELS = [("roles", "roles"), ("teams", "teams"), ("is_active", "active"),
                   ("email", "email"), ("username", "username"),
                   ("first_name", "first name"), ("last_name", "last name")]


def snapshot(user: User) -> dict:
    """The account as the audit trail describes it: details, role codes and team names."""
    grants = list(user.grants.select_related("team").exclude(role=Role.PATIENT))
    return {"roles": {g.role for g in grants}, "teams": {g.team.name for g in grants if g.team},
            "is_active": user.is_active, "email": user.email, "username": user.username,
            "first_name": user.first_name, "last_name": user.last_name}


class AccountEmailForm(PasswordResetForm):
    """Django's password-reset email (its token generator and confirm view), sent to one
    chosen account rather than to every account sharing the address, including an account
    that has no password yet."""

    def __init__(self, user: User):
        super().__init__({"email": user.email})
        self.user = user

    def get_users(self, email):
        return [self.user] if self.user.is_active and self.user.email else []

    def send_mail(self, subject_template_name, email_template_name, context, from_email,
                  to_email, html_email_template_name=None):
        """As Django's, but a mail server's refusal is raised, not only logged, so that the
        account's audit trail can say the link was never sent (views.after_commit)."""
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        EmailMessage(subject, body, from_email, [to_email]).send()
