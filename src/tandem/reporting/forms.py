"""Whose figures a reader may see, and the report's filter form (a GET form: period, team,
keyworker, setting, substance group).

Who sees what (the URL rules are in web/permissions.py; this narrows the figures):
- a **service manager** sees every team of the organisation and may filter by any team or
  keyworker; they see no list of patients unless they also hold a clinical role;
- a **team lead** sees the teams they lead, and may filter within them;
- a **practitioner** sees their own caseload: the patients whose keyworker they are on the
  period's last day (the scope's keyworker is always themselves).
Someone holding several of these roles gets the widest. Prescribers are not given the report
yet (issue 16 names managers, team leads and practitioners only).

Bad input (an impossible date, an end before the start, a team that does not exist or that
the reader may not see, a number too big for the database) is a message naming the field,
never a server error.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from tandem.accounts.models import Role, Team, User
from tandem.accounts.permissions import roles_of, team_ids
from tandem.core.dates import date_problem
from tandem.core.report import Period, last_twelve_months
from tandem.reporting.scope import SETTINGS, SUBSTANCES, Scope

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
NOT_A_DATE = "Enter a real date, for example 2026-01-31."
# The longest period a report covers (its previous period goes as far back again).
LONGEST = datetime.timedelta(days=366 * 10)


@dataclass(frozen=True)
class Reader:
    """What one user may see of the report."""

    organisation_id: int
    teams: frozenset[int] | None  # None: every team of the organisation
    keyworker: int | None  # set for a practitioner: their own caseload
    drills: bool  # may open the list of patients behind a figure
    team_names: dict[int, str]  # every team of the organisation, by id
    keyworkers: list[tuple[int, str]]  # whom they may filter by, as keyworker

    @property
    def whose(self) -> str:
        """Whose figures, in words, for the page's heading."""
        if self.keyworker is not None:
            return "Your own caseload"
        if self.teams is None:
            return "Every team"
        names = [self.team_names[t] for t in sorted(self.teams, key=self.team_names.get)]
        return ", ".join(names) if names else "No team"

    def may_see_team(self, team: int) -> bool:
        return self.teams is None or team in self.teams


def reader_of(user) -> Reader:
    """What `user` may see of the report (they hold one of READS_REPORT's roles)."""
    roles = roles_of(user)
    org = user.organisation_id
    team_names = dict(Team.objects.of(org).values_list("pk", "name"))
    drills = bool(roles & {Role.TEAM_LEAD, Role.PRACTITIONER})
    if Role.SERVICE_MANAGER in roles:
        teams, keyworker = None, None
    elif Role.TEAM_LEAD in roles:
        teams, keyworker = frozenset(team_ids(user, Role.TEAM_LEAD)), None
    else:  # a practitioner: their own caseload, across their teams
        teams, keyworker = None, user.pk
    if keyworker is not None:
        keyworkers = []
    else:
        staff = User.objects.filter(organisation_id=org, is_active=True,
                                    grants__role=Role.PRACTITIONER)
        if teams is not None:
            staff = staff.filter(grants__team_id__in=teams)
        keyworkers = [(u.pk, u.display_name) for u in staff.distinct().order_by(
            "last_name", "first_name", "username").only("pk", "first_name", "last_name",
                                                        "username")]
    return Reader(org, teams, keyworker, drills, team_names, keyworkers)


def _whole_number(value: str, field: str) -> int:
    text = (value or "").strip()
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses.
    if not (text.isascii() and text.isdigit()) or len(text) > 18:  # beyond any id held
        raise forms.ValidationError(f"There is no such {field} in this service. Choose a "
                                    f"{field} from the list.")
    return int(text)


class ReportFilter(forms.Form):
    """The report's filters. Unbound fields take the defaults: the last 12 months, every team
    and keyworker the reader may see, every setting and substance group."""

    start = forms.DateField(label="Period starts", required=False, widget=DATE,
                            error_messages={"invalid": NOT_A_DATE})
    end = forms.DateField(label="Period ends", required=False, widget=DATE,
                          error_messages={"invalid": NOT_A_DATE})
    team = forms.CharField(label="Team", required=False, widget=forms.Select)
    keyworker = forms.CharField(label="Keyworker", required=False, widget=forms.Select)
    setting = forms.ChoiceField(label="Setting", required=False,
                                choices=[("", "Every setting"), *SETTINGS.items()])
    substance = forms.ChoiceField(label="Substance group", required=False,
                                  choices=[("", "Every group"), *SUBSTANCES.items()])

    def __init__(self, reader: Reader, data=None, today: datetime.date | None = None):
        self.reader = reader
        self.today = today or timezone.localdate()
        self.default = last_twelve_months(self.today)
        query = {k: v for k, v in (data or {}).items() if k in self.base_fields}
        super().__init__({"start": self.default.start.isoformat(),
                          "end": self.default.end.isoformat(), **query})
        self.fields["setting"].error_messages["invalid_choice"] = "Choose a setting from the list."
        self.fields["substance"].error_messages["invalid_choice"] = (
            "Choose a substance group from the list.")
        allowed = [(t, n) for t, n in reader.team_names.items() if reader.may_see_team(t)]
        allowed.sort(key=lambda tn: tn[1])
        every = "Every team" if reader.teams is None else "All your teams"
        self.fields["team"].widget.choices = [("", every), *((str(t), n) for t, n in allowed)]
        if reader.keyworker is not None:  # a practitioner's figures are their own caseload
            del self.fields["team"]
            del self.fields["keyworker"]
        elif not reader.keyworkers:
            del self.fields["keyworker"]
        else:
            self.fields["keyworker"].widget.choices = [
                ("", "Every keyworker"), *((str(k), n) for k, n in reader.keyworkers)]

    def _day(self, name: str, what: str) -> datetime.date | None:
        day = self.cleaned_data.get(name)
        if day is None:
            return None
        problem = date_problem(day, what, self.today)
        if problem:
            raise forms.ValidationError(problem)
        return day

    def clean_start(self):
        return self._day("start", "The period's start") or self.default.start

    def clean_end(self):
        return self._day("end", "The period's end") or self.default.end

    def clean_team(self):
        value = self.cleaned_data.get("team") or ""
        if not value:
            return None
        team = _whole_number(value, "team")
        names = self.reader.team_names
        if team not in names:
            raise forms.ValidationError("There is no such team in this service. Choose a team "
                                        "from the list.")
        if not self.reader.may_see_team(team):
            yours = sorted(names[t] for t in self.reader.teams or ())
            raise forms.ValidationError(
                f"You can see the figures of your own teams only ({', '.join(yours)}), not "
                f"those of {names[team]}." if yours else
                f"You can see the figures of your own teams only, not those of {names[team]}.")
        return team

    def clean_keyworker(self):
        value = self.cleaned_data.get("keyworker") or ""
        if not value:
            return None
        keyworker = _whole_number(value, "keyworker")
        if keyworker not in dict(self.reader.keyworkers):
            raise forms.ValidationError(
                "Choose a keyworker from the list: this one is not a practitioner"
                + (" of your teams." if self.reader.teams is not None else " of this service."))
        return keyworker

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The period ends before it starts: choose an end on or "
                                      "after the start.")
            elif end - start > LONGEST:
                self.add_error("start", "The period is longer than 10 years: choose a later "
                                        "start.")
        return data

    def scope(self) -> Scope:
        """The figures' scope: the chosen filters within what the reader may see."""
        data = self.cleaned_data
        reader = self.reader
        team = data.get("team")
        teams = frozenset({team}) if team is not None else reader.teams
        keyworker = reader.keyworker if reader.keyworker is not None else data.get("keyworker")
        return Scope(reader.organisation_id, Period(data["start"], data["end"]), teams=teams,
                     keyworker=keyworker, setting=data.get("setting") or "",
                     substance=data.get("substance") or "")

    def query(self) -> str:
        """The filters as a query string (only those set), for links to exports and lists."""
        data = self.cleaned_data
        pairs = {"start": data["start"].isoformat(), "end": data["end"].isoformat()}
        for name in ("team", "keyworker", "setting", "substance"):
            if data.get(name):
                pairs[name] = str(data[name])
        return urlencode(pairs)

    def whose(self) -> str:
        """Whose figures the chosen filters give, in words, for the page."""
        data = self.cleaned_data
        reader = self.reader
        team = data.get("team")
        words = [reader.team_names[team] if team is not None else reader.whose]
        if data.get("keyworker"):
            words.append(f"keyworker {dict(reader.keyworkers)[data['keyworker']]}")
        if data.get("setting"):
            words.append(f"{SETTINGS[data['setting']].lower()} setting")
        if data.get("substance"):
            words.append(f"substance group {SUBSTANCES[data['substance']].lower()}")
        return ", ".join(words)

    def described(self) -> str:
        """The filters in words, for the audit trail and the page."""
        data = self.cleaned_data
        reader = self.reader
        period = Period(data["start"], data["end"])
        team = data.get("team")
        words = [f"period {period}",
                 f"team: {reader.team_names[team] if team is not None else reader.whose}"]
        if reader.keyworker is not None:
            words.append("keyworker: the reader (own caseload)")
        elif data.get("keyworker"):
            words.append(f"keyworker: {dict(reader.keyworkers)[data['keyworker']]}")
        else:
            words.append("keyworker: every")
        words.append(f"setting: {SETTINGS.get(data.get('setting'), 'every')}")
        words.append(f"substance group: {SUBSTANCES.get(data.get('substance'), 'every')}")
        return "; ".join(words)
