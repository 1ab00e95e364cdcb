"""'My patients' runs a fixed number of queries whatever the caseload size."""

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.patients.models import CareTeam, CareTeamMember, Episode, Patient


def add_caseload(world, count, start):
    org, user = world.org, world.users["practitioner"]
    patients = [Patient(organisation=org, team=world.team_a, service_id=f"C-{start + i:05d}",
                        given_name="Case", family_name=f"Load {start + i:05d}",
                        date_of_birth=datetime.date(1980, 1, 1)) for i in range(count)]
    Patient.objects.bulk_create(patients)
    teams = CareTeam.objects.bulk_create(
        [CareTeam(organisation=org, patient=p) for p in patients])
    Episode.objects.bulk_create([
        Episode(organisation=org, patient=p, start_date=datetime.date(2026, 1, 1),
                setting="community", status=["active", "post-exit-monitoring", "finished"][i % 3])
        for i, p in enumerate(patients)])
    CareTeamMember.objects.bulk_create([
        CareTeamMember(organisation=org, care_team=t, user=user, role="keyworker",
                       start_date=datetime.date(2026, 1, 1)) for t in teams])


def queries_for_page(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_my_patients_query_count_is_constant(world):
    client = world.client("practitioner")
    add_caseload(world, 4, 0)  # with p1: 5 patients
    small, response = queries_for_page(client, "/patients/?sort=status")
    assert response.context["page"].paginator.count == 5
    add_caseload(world, 495, 100)  # 500 patients
    large, response = queries_for_page(client, "/patients/?sort=status")
    assert response.context["page"].paginator.count == 500
    assert small == large
    assert large <= 15  # session, user, roles, audit append, count, page


def test_my_patients_is_sorted_paginated_and_searchable(world):
    add_caseload(world, 30, 0)
    client = world.client("practitioner")
    page1 = client.get("/patients/").context["page"]
    assert page1.paginator.num_pages == 2
    names = [p.family_name for p in page1]
    assert names == sorted(names)
    found = client.get("/patients/?q=Load 00007").context["page"]
    assert [p.service_id for p in found] == ["C-00007"]
    row = client.get("/patients/?q=T-001").content.decode()
    assert "In treatment" in row and "Keyworker" in row


def test_team_lead_list_covers_team_and_shows_role(world):
    page = world.client("team_lead").get("/patients/").context["page"]
    assert sorted(p.service_id for p in page) == ["T-001", "T-002"]
    assert {p.role_label for p in page} == {"Team lead"}


def test_patients_with_an_urgent_alert_come_first(world):
    from tandem.monitoring.models import Flag

    add_caseload(world, 3, 0)  # "Load 00000".. sort before "Patient T-001" by name
    client = world.client("practitioner")
    first = client.get("/patients/").context["page"].object_list[0]
    assert first.service_id == "C-00000" and not first.urgent
    Flag.objects.create(organisation=world.org, patient=world.p1, rule="safety-answer",
                        evidence_key="x", severity="urgent", evidence="PHQ-9 question 9")
    page = client.get("/patients/")
    first = page.context["page"].object_list[0]
    assert first == world.p1 and first.urgent
    assert "Urgent alert" in page.content.decode()
