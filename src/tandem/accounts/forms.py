from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from tandem.accounts.models import Role, Team, User
from tandem.records import versioning
from tandem.records.versioning import VersionedForm

STAFF_ROLES = [(r.value, r.label) for r in Role if r != Role.PATIENT]
TEAM_ROLES = {Role.PRACTITIONER, Role.TEAM_LEAD}


class TeamForm(VersionedForm, forms.ModelForm):
    """A team's name, checked; saved by `services.save_team`, over an existing team with
    `versioning.save`: a form opened before someone else's save saves nothing."""

    class Meta:
        model = Team
        fields = ["name"]

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.name_before = self.instance.name if self.instance.pk else None

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        clash = Team.objects.of(self.organisation).filter(name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("A team with this name already exists.")
        return name


class UserForm(VersionedForm, forms.ModelForm):
    """Create or edit a staff account: details, roles and the teams they apply to, checked
    here and saved by `services.save_user`. `before` is the account as the form was opened
    on (None for a new one), for the audit trail.

    No password: a new person is emailed a link to set their own, and an admin can send a
    reset (views.password_reset); an admin never chooses anyone's password. Nobody changes
    their own roles, teams or active state: for their own account those fields are not offered,
    and posting them is refused.

    Like every editable record (tandem.records.versioning), an account carries the version
    its form was opened at: a save from a form opened before another admin's save (or posted
    without a version) saves nothing and raises `versioning.Stale`, its changes including the
    roles and teams (`grant_differences`). An admin's change of the address is dated
    (views.password_reset)."""

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
        self.fields["teams"].queryset = Team.objects.of(organisation)
        self.fields["first_name"].required = True
        self.fields["last_name"].required = True
        self.fields["email"].required = True
        self.fields["email"].help_text = (
            "Tandem emails the link to set a password here, and tells this address if it "
            "is changed.")
        self.own = self.instance.pk is not None and self.instance.pk == editor.pk
        self.before = snapshot(self.instance) if self.instance.pk else None
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
