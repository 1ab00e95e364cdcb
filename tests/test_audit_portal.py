""""Who has looked at my record" in the portal (its own page, one link from the home): one row
per person per day, saying in plain words what they looked at or changed, over the last 90 days
with a link to older ones, in a fixed number of queries."""

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.audit import trail
from tandem.audit.models import AuditEvent
from tests.conftest import make_user

TODAY = timezone.localdate()


def at(day, hour=10, minute=0):
    return datetime.datetime.combine(day, datetime.time(hour, minute),
                                     tzinfo=timezone.get_current_timezone())


def record_at(monkeypatch, moment, **fields):
    """An event as if written at `moment`."""
    with monkeypatch.context() as m:
        m.setattr(trail.timezone, "now", lambda: moment)
        return trail.record(organisation=fields.pop("organisation"), **fields)


def portal(world, query=""):
    response = world.client("patient").get(f"/portal/who-looked/{query}")
    assert response.status_code == 200
    return response


def rows(response):
    return [(v.day, v.who, v.as_role, v.sentences) for v in response.context["page"]]


def test_many_views_in_a_day_are_one_row_saying_what_was_looked_at(world):
    client = world.client("practitioner")
    for _ in range(3):
        client.get(f"/patients/{world.p1.pk}/plan/")
        client.get(f"/patients/{world.p1.pk}/checkups/")
    client.get(f"/patients/{world.p1.pk}/flags/")
    client.get(f"/patients/{world.p1.pk}/plan/")
    response = portal(world)
    assert rows(response) == [(TODAY, "Practitioner Tester", "keyworker",
                               ["Looked at your plan, your check-ups and your flags list."])]
    page = response.content.decode()
    assert "Practitioner Tester (keyworker)" in page
    assert "Looked at your plan, your check-ups and your flags list." in page


def test_changes_and_lists_are_said_in_plain_words_without_internal_names(world):
    lead = world.client("team_lead")
    lead.post(f"/patients/{world.p1.pk}/care-team/new/",
              {"role": "gp", "name": "Dr Who", "start_date": str(TODAY)})
    lead.get("/patients/")
    lead.get(f"/api/v1/patients/{world.p1.pk}/responses")
    [(day, who, role, sentences)] = rows(portal(world))
    assert (day, who, role) == (TODAY, "Team_Lead Tester", "team lead")
    assert sentences == ["Looked at your check-ups.",
                         "Changed or added to your care team.",
                         "Saw you in their list of patients."]
    section = portal(world).content.decode().split('id="access-h"')[1]
    for internal in ("careteammember", "Viewed", "Listed", "read", "search", "practitioner",
                     "team_lead", "response", "caseload", "api", "FHIR"):
        assert internal not in section, internal


def test_a_row_per_person_and_per_day_newest_first(world, monkeypatch):
    org, p1 = world.org, world.p1
    keyworker, lead = world.users["practitioner"], world.users["team_lead"]
    yesterday = TODAY - datetime.timedelta(days=1)
    # Late last night and early this morning, local time: two days, not one.
    record_at(monkeypatch, at(yesterday, 23, 30), organisation=org, action="read", actor=keyworker,
              role="practitioner", patient=p1, object_type="goals")
    record_at(monkeypatch, at(TODAY, 0, 30), organisation=org, action="read", actor=keyworker,
              role="practitioner", patient=p1, object_type="timeline")
    record_at(monkeypatch, at(TODAY, 1), organisation=org, action="read", actor=lead,
              role="team_lead", patient=p1, object_type="timeline")
    record_at(monkeypatch, at(TODAY, 2), organisation=org, action="update", actor=None,
              patient=p1, object_type="flag")
    assert rows(portal(world)) == [
        (TODAY, "Tandem (automatically)", "", ["Changed or added to one of your flags."]),
        (TODAY, "Team_Lead Tester", "team lead", ["Looked at your timeline."]),
        (TODAY, "Practitioner Tester", "keyworker", ["Looked at your timeline."]),
        (yesterday, "Practitioner Tester", "keyworker", ["Looked at your goals."]),
    ]


def test_the_patients_own_visits_and_refusals_are_not_listed(world):
    client = world.client("patient")
    for url in ("/portal/plan/", "/portal/checkups/", "/portal/goals/"):
        client.get(url)
    world.client("practitioner_b").get(f"/patients/{world.p1.pk}/")  # refused
    response = portal(world)
    assert rows(response) == []
    assert "Nobody else opened your record in this time." in response.content.decode()


def test_the_last_90_days_with_a_link_to_older_ones(world, monkeypatch):
    record_at(monkeypatch, at(TODAY - datetime.timedelta(days=100)), organisation=world.org,
              action="read", actor=world.users["practitioner"], role="practitioner",
              patient=world.p1, object_type="plan")
    record_at(monkeypatch, at(TODAY - datetime.timedelta(days=89)), organisation=world.org,
              action="read", actor=world.users["prescriber"], role="prescriber",
              patient=world.p1, object_type="checkups")
    recent = portal(world)
    assert [who for _d, who, _r, _s in rows(recent)] == ["Prescriber Tester"]
    older_day = TODAY - datetime.timedelta(days=90)
    page = recent.content.decode()
    assert f'href="?until={older_day:%Y-%m-%d}"' in page and "Older" in page
    older = portal(world, f"?until={older_day:%Y-%m-%d}")
    assert rows(older) == [(TODAY - datetime.timedelta(days=100), "Practitioner Tester",
                            "keyworker", ["Looked at your plan."])]
    assert 'href="?"' in older.content.decode()  # back to the latest
    assert older.context["accesses"].older is None  # nothing older still
    # A date in the future or not a date at all: the latest 90 days.
    assert rows(portal(world, "?until=2999-01-01")) == rows(recent)
    assert rows(portal(world, "?until=yesterday")) == rows(recent)


def test_the_page_takes_the_same_number_of_queries_however_long_the_history(world, monkeypatch):
    def person_days(people, days):
        for n, user in enumerate(people):
            for d in range(days):
                for i, part in enumerate(("plan", "checkups", "goals")):
                    moment = at(TODAY - datetime.timedelta(days=d), 9, n)
                    record_at(monkeypatch, moment + datetime.timedelta(seconds=i),
                              organisation=world.org, action="read", actor=user,
                              role="practitioner", patient=world.p1, object_type=part)

    def count():
        client = world.client("patient")
        client.get("/portal/who-looked/")  # the session's once-a-minute write, out of the way
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/portal/who-looked/")
        return len(ctx.captured_queries), response

    person_days([world.users["practitioner"]], 2)
    small, response = count()
    assert len(response.context["page"].object_list) == 2
    staff = [make_user(world.org, f"worker{n}", "practitioner", world.team_a) for n in range(6)]
    person_days(staff, 20)
    large, response = count()
    assert response.context["page"].paginator.count == 2 + 6 * 20
    assert len(response.context["page"].object_list) == 20
    assert all(s == ["Looked at your plan, your check-ups and your goals."]
               for *_rest, s in rows(response))
    assert small == large
    assert AuditEvent.objects.filter(patient=world.p1).count() > 360
