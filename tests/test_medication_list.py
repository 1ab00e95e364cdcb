"""The prescriber's "my patients on medication": only the patients the user may see, reviews due
first, then requests waiting, then everyone else; a fixed number of queries whatever the number
of patients; paginated; each patient shown is audited; linked from the staff navigation."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.audit.models import AuditEvent
from tandem.caseload import medication as medication_list
from tandem.medication import doses
from tandem.medication.models import MedicationReview
from tandem.patients.models import CareTeam, CareTeamMember, Episode, Patient

TODAY = timezone.localdate()
URL = "/patients/medication/"


def ago(n: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=n)


def prescriber(world) -> Actor:
    return Actor(user=world.users["prescriber"], role="prescriber")


def terms(review_in=60, **extra):
    values = {"low": D(20), "high": D(100), "step_up_max": D(30), "step_down_max": D(10),
              "min_days_between": 1, "max_rise_7_days": D(30), "self_setting": True,
              "review_date": TODAY + datetime.timedelta(days=review_in)}
    values.update(extra)
    return doses.Terms(**values)


def patient_on_medication(world, name, *, review_in=60, started=30, team=None, member=True):
    patient = Patient.objects.create(
        organisation=world.org, team=team or world.team_a, service_id=f"M-{name}",
        given_name="Pat", family_name=name, date_of_birth=datetime.date(1980, 1, 1))
    care_team = CareTeam.objects.create(organisation=world.org, patient=patient)
    if member:
        CareTeamMember.objects.create(organisation=world.org, care_team=care_team,
                                      user=world.users["prescriber"], role="prescriber",
                                      start_date=ago(300))
    episode = Episode.objects.create(organisation=world.org, patient=patient, status="active",
                                     start_date=ago(300), setting="community")
    plan = doses.start_plan(prescriber(world), episode, "methadone", terms(review_in), D(30),
                            ago(started), "Agreed at assessment")
    return patient, plan


def rows_of(response):
    return [(title, [r.name for r in rows]) for _s, title, rows in response.context["sections"]]


def test_reviews_due_then_requests_waiting_then_everyone_else(world):
    _, soon = patient_on_medication(world, "Soon", review_in=10)
    _, later = patient_on_medication(world, "Later", review_in=60)
    _, asked = patient_on_medication(world, "Asked", review_in=60)
    doses.request_dose(Actor(user=world.users["practitioner"]), asked, D(35),
                       TODAY + datetime.timedelta(days=1), on_behalf=True)
    _, old = patient_on_medication(world, "Overdue", review_in=60, started=100)  # never reviewed
    _, both = patient_on_medication(world, "Both", review_in=5)
    doses.request_dose(Actor(user=world.users["practitioner"]), both, D(35), TODAY,
                       on_behalf=True)
    _, reviewed = patient_on_medication(world, "Reviewed", review_in=60, started=100)
    MedicationReview.objects.create(
        organisation=world.org, plan=reviewed, held_on=ago(5), adequacy="right",
        patient_view="Fine", substance_goal="stable", goal_chosen_by="patient",
        next_review=TODAY + datetime.timedelta(days=60), held_by=world.users["prescriber"])
    patient_on_medication(world, "Hidden", team=world.team_b, member=False)  # not on my team
    response = world.client("prescriber").get(URL)
    assert response.status_code == 200
    assert rows_of(response) == [
        ("Reviews due", ["Overdue, Pat", "Both, Pat", "Soon, Pat"]),
        ("Requests waiting", ["Asked, Pat"]),
        ("Everyone else on medication", ["Later, Pat", "Reviewed, Pat"]),
    ]
    html = response.content.decode()
    overdue = ago(100) + datetime.timedelta(days=91)
    assert f"Overdue since {overdue.day} {overdue:%b %Y}" in html
    assert "Dose request waiting: 35 mg a day from" in html
    assert "30 mg a day" in html and "Methadone oral solution 1 mg/ml" in html
    assert "Medication review overdue" in html  # its open flag, on the row
    assert "does not produce legal prescriptions" in html
    assert "Hidden" not in html
    first = response.context["sections"][0][2][0]
    assert first.url == f"/patients/{first.patient_id}/medication/"
    # Each patient shown is audited as listed.
    listed = AuditEvent.objects.filter(object_type="medication-list",
                                       actor=world.users["prescriber"])
    assert listed.count() == 6


def test_a_team_lead_sees_their_teams_patients_and_a_practitioner_only_their_own(world):
    patient_on_medication(world, "Mine")
    patient_on_medication(world, "Other", team=world.team_b, member=False)
    lead = world.client("team_lead").get(URL)
    assert [r.name for _s, _t, rows in lead.context["sections"] for r in rows] == ["Mine, Pat"]
    practitioner = world.client("practitioner").get(URL)
    assert practitioner.status_code == 200 and practitioner.context["sections"] == []
    assert "None of your patients has a current medication plan." in \
        practitioner.content.decode()


def page_queries(client, url=URL) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_whatever_the_number_of_patients(world):
    client = world.client("prescriber")
    _, plan = patient_on_medication(world, "First", review_in=5)
    doses.request_dose(Actor(user=world.users["practitioner"]), plan, D(35), TODAY,
                       on_behalf=True)
    few = page_queries(client)
    for n in range(12):
        _, plan = patient_on_medication(world, f"More {n:02d}", review_in=5 + 10 * (n % 7))
        if n % 3 == 0:
            doses.request_dose(Actor(user=world.users["practitioner"]), plan, D(35), TODAY,
                               on_behalf=True)
    assert page_queries(client) == few


def test_a_long_list_is_paginated(world, monkeypatch):
    monkeypatch.setattr(medication_list, "PAGE_SIZE", 3)
    for n in range(7):
        patient_on_medication(world, f"Name {n}")
    client = world.client("prescriber")
    first = client.get(URL)
    assert first.context["page"].paginator.num_pages == 3
    names = [r.name for _s, _t, rows in first.context["sections"] for r in rows]
    assert names == ["Name 0, Pat", "Name 1, Pat", "Name 2, Pat"]
    assert 'rel="next"' in first.content.decode()
    last = client.get(URL + "?page=3")
    assert [r.name for _s, _t, rows in last.context["sections"] for r in rows] == ["Name 6, Pat"]
    assert client.get(URL + "?page=99").context["page"].number == 3  # past the end: the last
    assert client.get(URL + "?page=x").status_code == 200


def test_the_staff_navigation_links_the_list(world):
    for role in ("prescriber", "practitioner", "team_lead"):
        page = world.client(role).get("/patients/")
        assert ("patients:medication-list", "On medication") in page.context["nav"]
    nav = world.client("patient").get("/portal/").context["nav"]
    assert "patients:medication-list" not in [name for name, _label in nav]
    assert world.client("service_admin").get(URL).status_code == 403


def test_the_list_links_the_pharmacy_import_for_everyone_who_may_use_it(world):
    for role in ("prescriber", "practitioner", "team_lead"):
        page = world.client(role).get(URL)
        assert page.status_code == 200
        assert 'href="/patients/dispensing/import/"' in page.content.decode()
        assert world.client(role).get("/patients/dispensing/import/").status_code == 200
