"""The report's "harm" figures on small hand-built datasets, each answer worked out by hand in
a comment: injecting and sharing at the first profile against the latest, overdose-risk flags,
and urgent flags acknowledged on the same local day. People who must not count are in each
dataset (out of the period, another team under a team filter, another organisation)."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.accounts.models import Organisation, Team
from tandem.assessment.models import Response
from tandem.core.report import Period, Value
from tandem.monitoring.models import Flag
from tandem.patients.models import Episode
from tandem.reporting.figures import BY_KEY, harm
from tandem.reporting.scope import Scope
from tests.conftest import make_patient

D = datetime.date
LONDON = ZoneInfo("Europe/London")
PERIOD = Period(D(2024, 1, 1), D(2024, 6, 30))  # the world's own episodes start long after
EPISODE_START = D(2023, 11, 1)


def patient(org, team, sid, start=EPISODE_START, exit_date=None):
    """A patient whose only episode starts on `start` (ended on `exit_date` if given)."""
    p = make_patient(org, team, sid)
    Episode.objects.filter(patient=p).delete()
    Episode.objects.create(organisation=org, patient=p, start_date=start, setting="community",
                           status="finished" if exit_date else "active", exit_date=exit_date)
    return p


def top(p, on, inject=0, status="completed", **answers):
    """A profile of the patient's episode with `inject` days injected; `answers` the sharing
    questions (left out: not answered)."""
    Response.objects.create(
        organisation=p.organisation, patient=p, episode=p.episodes.get(),
        instrument_code="top", instrument_version="1", status=status, mode="self",
        completed_at=datetime.datetime(on.year, on.month, on.day, 12, tzinfo=datetime.UTC),
        scores={"opioids_days": 10, "inject_days": inject}, answers=answers)


def flag(p, rule, severity, raised, acknowledged=None, status="active"):
    """A flag raised (and acknowledged) at London wall-clock times."""
    return Flag.objects.create(
        organisation=p.organisation, patient=p, rule=rule, evidence_key=f"{rule}:{raised}",
        severity=severity, status=status, evidence="As found",
        raised_at=raised.replace(tzinfo=LONDON),
        acknowledged_at=acknowledged.replace(tzinfo=LONDON) if acknowledged else None)


def value(key, scope) -> Value:
    return BY_KEY[key].value(scope)


def drilled(key, scope) -> set:
    """The patient ids a figure drills to (one `patient_id` column, each patient once)."""
    rows = [row["patient_id"] for row in BY_KEY[key].patients(scope)]
    assert len(rows) == len(set(rows))
    return set(rows)


def other_org_team():
    org = Organisation.objects.get(name="Elsewhere Service")
    return org, Team.objects.get(organisation=org)


def test_injecting_and_sharing_first_profile_against_the_latest(world):
    org, a, b = world.org, world.team_a, world.team_b
    # H1: injected 10 days sharing a needle at the first (10 Jan), none at the latest (1 May).
    h1 = patient(org, a, "H-1")
    top(h1, D(2024, 1, 10), inject=10, inject_shared_needle=True, inject_shared_equipment=False)
    top(h1, D(2024, 5, 1), inject=0)
    # H2: none at the first (1 Dec 2023); 4 days sharing a spoon at the latest by the end
    # (1 Apr); the August profile is after the period.
    h2 = patient(org, a, "H-2")
    top(h2, D(2023, 12, 1), inject=0)
    top(h2, D(2024, 4, 1), inject=4, inject_shared_needle=False, inject_shared_equipment=True)
    top(h2, D(2024, 8, 1), inject=0)
    # H3: only one profile: not counted at all.
    h3 = patient(org, a, "H-3")
    top(h3, D(2024, 2, 1), inject=20, inject_shared_needle=True)
    # H4: 3 days at the first and the latest, no sharing; a draft in between (sharing) is
    # not a completed profile.
    h4 = patient(org, a, "H-4")
    top(h4, D(2024, 1, 5), inject=3)
    top(h4, D(2024, 2, 5), inject=9, status="in_progress", inject_shared_needle=True)
    top(h4, D(2024, 3, 5), inject=3, inject_shared_needle=False)
    # H5, team B: no injecting at either.
    h5 = patient(org, b, "H-5")
    top(h5, D(2024, 1, 5))
    top(h5, D(2024, 3, 5))
    # Not counted: H6 elsewhere, H7's episode ended before the period; both injecting, sharing.
    other, other_team = other_org_team()
    h6 = patient(other, other_team, "H-6")
    h7 = patient(org, a, "H-7", start=D(2023, 1, 1), exit_date=D(2023, 12, 31))
    for p in (h6, h7):
        top(p, D(2023, 6, 1), inject=5, inject_shared_needle=True)
        top(p, D(2023, 12, 1), inject=5, inject_shared_needle=True)

    everyone = Scope(org.pk, PERIOD)
    team_a = Scope(org.pk, PERIOD, teams=frozenset({a.pk}))
    # Two or more profiles by 30 Jun: H1, H2, H4, H5 = 4 (team A: H1, H2, H4 = 3).
    # Injecting at the first: H1 (10), H4 (3): 2 of 4. At the latest: H2 (4), H4 (3): 2 of 4.
    assert value("injecting-at-start", everyone) == Value(count=2, of=4)
    assert drilled("injecting-at-start", everyone) == {h1.pk, h4.pk}
    assert value("injecting-latest", everyone) == Value(count=2, of=4)
    assert drilled("injecting-latest", everyone) == {h2.pk, h4.pk}
    assert value("injecting-latest", team_a) == Value(count=2, of=3)
    # Sharing at the first: H1 (a needle): 1 of 4. At the latest: H2 (a spoon): 1 of 4.
    assert value("sharing-at-start", everyone) == Value(count=1, of=4)
    assert drilled("sharing-at-start", everyone) == {h1.pk}
    assert value("sharing-latest", everyone) == Value(count=1, of=4)
    assert drilled("sharing-latest", everyone) == {h2.pk}
    assert value("sharing-latest", Scope(org.pk, PERIOD, teams=frozenset({b.pk}))) == Value(
        count=0, of=1)
    # A period ending 31 Mar: H2 has one profile by then (1 Dec) and drops out; H4's latest is
    # 5 Mar; H1's only one (10 Jan) drops out too: H4, H5 = 2, injecting at the latest H4: 1.
    march = Scope(org.pk, Period(D(2024, 1, 1), D(2024, 3, 31)))
    assert value("injecting-latest", march) == Value(count=1, of=2)


def test_overdose_risk_flags_and_urgent_flags_seen_the_same_day(world):
    org, a, b = world.org, world.team_a, world.team_b
    dt = datetime.datetime
    h1, h2, h3, h4 = (patient(org, a, f"F-{i}") for i in range(1, 5))
    h5 = patient(org, b, "F-5")
    # H1: return to use on 1 Mar: an overdose-risk flag.
    flag(h1, "return-to-use", "high", dt(2024, 3, 1, 10))
    # H2: missed doses (urgent) at 23:30 on 30 Jun (22:30 UTC), acknowledged at 00:10 on
    # 1 Jul London time (still 30 Jun in UTC): in the period, but not the same local day.
    flag(h2, "missed-doses", "urgent", dt(2024, 6, 30, 23, 30), dt(2024, 7, 1, 0, 10))
    # H3: missed doses (urgent) on 1 Apr, never acknowledged.
    flag(h3, "missed-doses", "urgent", dt(2024, 4, 1, 9))
    # H4: return to use at 23:30 on 31 Dec 2023 (before the period) and an injecting flag in
    # it (not an overdose-risk flag).
    flag(h4, "return-to-use", "high", dt(2023, 12, 31, 23, 30))
    flag(h4, "injecting", "high", dt(2024, 2, 1, 9))
    # H5, team B: an urgent safety answer raised 10:00 and acknowledged 16:00 on 1 Feb; a
    # missed-doses flag entered in error.
    flag(h5, "safety-answer", "urgent", dt(2024, 2, 1, 10), dt(2024, 2, 1, 16))
    flag(h5, "missed-doses", "urgent", dt(2024, 2, 2, 10), dt(2024, 2, 2, 11),
         status="entered-in-error")
    # Not counted: another organisation's urgent flag seen the same day, and H7's whose
    # episode ended before the period.
    other, other_team = other_org_team()
    flag(patient(other, other_team, "F-6"), "missed-doses", "urgent", dt(2024, 3, 1, 9),
         dt(2024, 3, 1, 10))
    flag(patient(org, a, "F-7", start=D(2023, 1, 1), exit_date=D(2023, 12, 1)), "missed-doses",
         "urgent", dt(2024, 3, 1, 9), dt(2024, 3, 1, 10))

    everyone = Scope(org.pk, PERIOD)
    team_a = Scope(org.pk, PERIOD, teams=frozenset({a.pk}))
    team_b = Scope(org.pk, PERIOD, teams=frozenset({b.pk}))
    # Overdose risk in the period: H1, H2, H3 = 3 (not H4's December flag or injecting flag,
    # not H5's entered in error). Team A 3, team B 0.
    assert value("overdose-risk-flags", everyone) == Value(count=3)
    assert drilled("overdose-risk-flags", everyone) == {h1.pk, h2.pk, h3.pk}
    assert value("overdose-risk-flags", team_b) == Value(count=0)
    # Urgent flags raised in the period: H2's (next local day), H3's (never), H5's (same day):
    # 1 of 3. Team A: 0 of 2; team B: 1 of 1.
    assert value("urgent-acknowledged-same-day", everyone) == Value(count=1, of=3)
    assert value("urgent-acknowledged-same-day", team_a) == Value(count=0, of=2)
    assert value("urgent-acknowledged-same-day", team_b) == Value(count=1, of=1)
    # Two overdose-risk flags for one patient count them once: H1 again on 2 Mar.
    flag(h1, "missed-doses", "urgent", dt(2024, 3, 2, 10))
    assert value("overdose-risk-flags", everyone) == Value(count=3)
    # An urgent flag Tandem closed itself the same day before anyone acknowledged it (the
    # doses were taken after all) is not counted, as in the reviews section: 1 of 4 (with
    # H1's of 2 Mar, never acknowledged).
    closed = flag(h5, "missed-doses", "urgent", dt(2024, 3, 5, 9))
    closed.status, closed.resolved_at = "inactive", dt(2024, 3, 5, 18).replace(tzinfo=LONDON)
    closed.save()
    assert value("urgent-acknowledged-same-day", everyone) == Value(count=1, of=4)
    # Closed the next day, unacknowledged: it waited a whole day, so it counts: 1 of 5.
    closed.resolved_at = dt(2024, 3, 6, 9).replace(tzinfo=LONDON)
    closed.save()
    assert value("urgent-acknowledged-same-day", everyone) == Value(count=1, of=5)


def _section_queries(scope: Scope) -> int:
    with CaptureQueriesContext(connection) as queries:
        for figure in harm.FIGURES:
            figure.value(scope)
            if figure.patients is not None:
                list(figure.patients(scope))
    return len(queries)


def _build(world, n: int) -> None:
    for i in range(n):
        p = patient(world.org, world.team_a, f"Q-{n}-{i}")
        top(p, D(2024, 1, 5), inject=2, inject_shared_needle=True)
        top(p, D(2024, 3, 5), inject=1)
        flag(p, "missed-doses", "urgent", datetime.datetime(2024, 3, 1, 9),
             datetime.datetime(2024, 3, 1, 10))


def test_the_section_takes_the_same_queries_for_2_or_6_patients(world):
    scope = Scope(world.org.pk, PERIOD)
    _build(world, 2)
    two = _section_queries(scope)
    _build(world, 4)
    six = _section_queries(scope)
    assert value("sharing-at-start", scope) == Value(count=6, of=6)
    assert value("urgent-acknowledged-same-day", scope) == Value(count=6, of=6)
    # One query per figure and one per drill-down, whatever the number of patients.
    assert two == six == len(harm.FIGURES) + sum(f.patients is not None for f in harm.FIGURES)
