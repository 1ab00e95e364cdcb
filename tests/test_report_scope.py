"""Whose figures: the report's scope keeps one episode per patient open in the period, and
narrows by team, keyworker, setting and substance group (worked by hand below)."""

import datetime

from tandem.accounts.models import Role
from tandem.assessment.models import Response
from tandem.core.report import Period
from tandem.patients.models import CareTeamMember, Episode
from tandem.reporting.scope import Scope
from tests.conftest import make_patient, make_user

D = datetime.date
PERIOD = Period(D(2026, 1, 1), D(2026, 6, 30))


def top(patient, episode, on, **days):
    scores = {"alcohol_days": 0, "opioids_days": 0, "crack_days": 0, "cocaine_days": 0,
              "amphetamines_days": 0, "cannabis_days": 0, "other_days": 0, **days}
    return Response.objects.create(
        organisation=patient.organisation, patient=patient, episode=episode,
        instrument_code="top", instrument_version="1", status="completed", mode="self",
        completed_at=datetime.datetime(on.year, on.month, on.day, 12, tzinfo=datetime.UTC),
        scores=scores)


def test_scope_keeps_latest_open_episode_and_filters(world):
    org, a, b = world.org, world.team_a, world.team_b
    # p1, p2 (team A) and p3 (team B) of the world have an open episode from 90 days before
    # today (December 2026): not open in the first half of 2026. Make our own.
    kw = make_user(org, "kw", Role.PRACTITIONER, a)
    alice = make_patient(org, a, "R-1", members=[(kw, "keyworker")])
    bob = make_patient(org, a, "R-2")
    cara = make_patient(org, b, "R-3")
    Episode.objects.filter(patient__in=[alice, bob, cara]).delete()
    CareTeamMember.objects.filter(care_team__patient=alice).update(start_date=D(2025, 1, 1))
    # Alice: two episodes open in the period; the later one counts. Opiate at its first TOP.
    Episode.objects.create(organisation=org, patient=alice, start_date=D(2025, 1, 1),
                           exit_date=D(2026, 2, 1), status="finished", setting="community")
    later = Episode.objects.create(organisation=org, patient=alice, start_date=D(2026, 3, 1),
                                   setting="residential")
    top(alice, later, D(2026, 3, 2), opioids_days=20, alcohol_days=5)
    # Bob: ended before the period: not in it. Cara: alcohol only, community, team B.
    Episode.objects.create(organisation=org, patient=bob, start_date=D(2025, 1, 1),
                           exit_date=D(2025, 12, 31), status="finished", setting="community")
    cara_ep = Episode.objects.create(organisation=org, patient=cara, start_date=D(2026, 6, 30),
                                     setting="community")
    top(cara, cara_ep, D(2026, 6, 30), alcohol_days=12, tobacco_days=28)

    scope = Scope(org.pk, PERIOD)
    assert set(scope.in_treatment().values_list("pk", flat=True)) == {later.pk, cara_ep.pk}
    assert list(Scope(org.pk, PERIOD, teams=frozenset({b.pk})).patients()) == [
        {"patient_id": cara.pk}]
    assert [e.pk for e in Scope(org.pk, PERIOD, keyworker=kw.pk).in_treatment()] == [later.pk]
    assert [e.pk for e in Scope(org.pk, PERIOD, setting="residential").in_treatment()] == [
        later.pk]
    assert [e.pk for e in Scope(org.pk, PERIOD, substance="opiate").in_treatment()] == [later.pk]
    assert [e.pk for e in Scope(org.pk, PERIOD, substance="alcohol").in_treatment()] == [
        cara_ep.pk]
    assert not Scope(org.pk, PERIOD, substance="non-opiate").in_treatment().exists()


def test_an_episode_ended_the_day_a_new_one_starts_counts_the_patient_once(world):
    # A finished episode of one day (1 March) and a new one from 1 March: one patient, and the
    # episode counted is the open one (it ends later).
    org = world.org
    dan = make_patient(world.org, world.team_a, "R-4")
    Episode.objects.filter(patient=dan).delete()
    Episode.objects.create(organisation=org, patient=dan, start_date=D(2026, 3, 1),
                           exit_date=D(2026, 3, 1), status="finished", setting="community")
    new = Episode.objects.create(organisation=org, patient=dan, start_date=D(2026, 3, 1),
                                 setting="residential")
    assert [e.pk for e in Scope(org.pk, PERIOD).in_treatment()] == [new.pk]
