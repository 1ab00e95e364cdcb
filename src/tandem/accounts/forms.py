from django import forms
from django.contrib.auth import password_validation
from django.db import transaction

from tandem.accounts.models import Role, RoleGrant, Team, User

STAFF_ROLES = [(r.value, r.label) for r in Role if r != Role.PATIENT]
TEAM_ROLES = {Role.PRACTITIONER, Role.TEAM_LEAD}


class TeamForm(forms.ModelForm):
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


class UserForm(forms.ModelForm):
    """Create or edit a staff account: details, roles and the teams they apply to."""

    roles = forms.MultipleChoiceField(
        choices=STAFF_ROLES, widget=forms.CheckboxSelectMultiple, required=True
    )
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Practitioners and team leads work within these teams.",
    )
    password1 = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        required=False, strip=False,
    )
    password2 = forms.CharField(
        label="Password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        required=False, strip=False,
    )

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "is_active"]

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.fields["teams"].queryset = Team.objects.filter(organisation=organisation)
        self.fields["first_name"].required = True
        self.fields["last_name"].required = True
        if self.instance.pk:
            grants = list(self.instance.grants.all())
            self.initial["roles"] = sorted({g.role for g in grants})
            self.initial["teams"] = sorted({g.team_id for g in grants if g.team_id})
            self.fields["password1"].help_text = "Leave blank to keep the current password."
        else:
            self.fields["password1"].required = True
            self.fields["password2"].required = True

    def clean(self):
        data = super().clean()
        roles = set(data.get("roles") or [])
        if roles & TEAM_ROLES and not data.get("teams"):
            self.add_error("teams", "Choose at least one team for a practitioner or team lead.")
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 or p2:
            if p1 != p2:
                self.add_error("password2", "The two passwords do not match.")
            else:
                candidate = self.instance
                candidate.username = data.get("username", candidate.username)
                try:
                    password_validation.validate_password(p1, candidate)
                except forms.ValidationError as error:
                    self.add_error("password1", error)
        return data

    @transaction.atomic
    def save(self, commit=True):
        user = super().save(commit=False)
        user.organisation = self.organisation
        if self.cleaned_data.get("password1"):
            user.set_password(self.cleaned_data["password1"])
        user.save()
        roles = set(self.cleaned_data["roles"])
        teams = list(self.cleaned_data.get("teams") or [])
        user.grants.exclude(role=Role.PATIENT).delete()
        grants = []
        for role in sorted(roles):
            if role in TEAM_ROLES:
                grants += [RoleGrant(organisation=self.organisation, user=user, role=role, team=t)
                           for t in teams]
            else:
                grants.append(RoleGrant(organisation=self.organisation, user=user, role=role))
        RoleGrant.objects.bulk_create(grants)
        return user
