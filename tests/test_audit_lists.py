"""Lists that show patients' details record which patients they showed: one event per patient
shown, appended in one go, so each appears in that patient's "who has looked at my record"."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.audit import trail
from tandem.audit.models import AuditEvent
from tandem.patients.models import Patient
from tests.test_api_flags import make_flag
from tests.test_caseload import add_caseload


def listed(world, user="practitioner"):
    return list(AuditEvent.objects.filter(actor=world.users[user], action="search")
                .order_by("seq"))


def test_the_caseload_page_records_each_patient_on_the_page(world):
    add_caseload(world, 30, 0)  # with p1: 31, so two pages of 25
    client = world.client("practitioner")
    first = client.get("/patients/?sort=name")
    shown = [row.id for row in first.context["page"]]
    events = listed(world)
    assert len(shown) == 25
    assert [e.patient_id for e in events] == shown
    assert {(e.object_type, e.role, e.path) for e in events} == {
        ("caseload", "practitioner", "/patients/?sort=name")}
    client.get("/patients/?sort=name&page=2")
    assert len(listed(world)) == 31
    assert {e.patient_id for e in listed(world)} == set(
        Patient.objects.filter(organisation=world.org).exclude(
            service_id__in=["T-002", "T-003"]).values_list("pk", flat=True))
    assert trail.verify() == []


def test_a_search_records_who_it_found_and_a_search_that_found_nobody_is_still_recorded(world):
    add_caseload(world, 10, 0)
    client = world.client("practitioner")
    client.get("/patients/?q=Load 00007")
    (found,) = listed(world)
    assert found.patient.service_id == "C-00007" and found.object_type == "patient-search"
    client.get("/patients/?q=nobody-at-all")
    nobody = listed(world)[-1]
    assert nobody.patient is None and nobody.object_type == "patient-search"
    assert nobody.path == "/patients/?q=nobody-at-all"


def test_the_api_patient_list_records_exactly_the_page_it_sent(world):
    add_caseload(world, 10, 0)
    body = world.client("practitioner").get("/api/v1/patients?limit=4&offset=3").json()
    assert body["count"] == 11 and len(body["items"]) == 4
    events = listed(world)
    assert [str(e.patient_id) for e in events] == [p["id"] for p in body["items"]]
    assert {e.object_type for e in events} == {"patient-list"}
    world.client("practitioner").get("/api/v1/patients?q=Load 0000")
    assert {e.object_type for e in listed(world)[4:]} == {"patient-search"}


def test_the_api_caseload_records_each_row(world):
    add_caseload(world, 5, 0)
    body = world.client("team_lead").get("/api/v1/caseload?limit=3&sort=name").json()
    events = listed(world, "team_lead")
    assert [str(e.patient_id) for e in events] == [r["id"] for r in body["results"]]
    assert {(e.object_type, e.role) for e in events} == {("caseload", "team_lead")}


def test_the_api_flag_list_records_each_patient_whose_flags_it_showed_once(world):
    make_flag(world)
    make_flag(world, rule="no-contact", severity="medium", key="n")
    make_flag(world, patient=world.p2, key="p2")
    body = world.client("team_lead").get("/api/v1/flags").json()
    assert len(body["items"]) == 3
    events = listed(world, "team_lead")
    assert sorted(e.patient_id for e in events) == sorted([world.p1.pk, world.p2.pk])
    assert {e.object_type for e in events} == {"flag-list"}


def test_a_refused_or_invalid_list_request_records_no_listing(world):
    client = world.client("practitioner")
    assert client.get("/api/v1/flags?status=nonsense").status_code == 422
    assert client.get("/api/v1/caseload?limit=0").status_code == 422
    assert listed(world) == []


def test_being_listed_shows_in_the_patients_portal(world):
    world.client("practitioner").get("/patients/")
    world.client("team_lead").get("/api/v1/flags")  # p1 has no flags: not shown
    page = world.client("patient").get("/portal/who-looked/").content.decode()
    assert "Saw you in their list of patients." in page
    assert "Team_Lead" not in page


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries)


def test_the_api_lists_record_in_a_fixed_number_of_queries_whatever_the_page_size(world):
    client = world.client("team_lead")
    client.get("/")  # the session's once-a-minute write, out of the way
    add_caseload(world, 3, 0)
    for patient in Patient.objects.filter(service_id__startswith="C-"):
        make_flag(world, patient=patient, key=str(patient.pk))
    small = [queries(client, u) for u in
             ("/api/v1/patients?limit=200", "/api/v1/caseload?limit=200", "/api/v1/flags")]
    add_caseload(world, 120, 100)
    for patient in Patient.objects.filter(service_id__startswith="C-001"):
        make_flag(world, patient=patient, key=str(patient.pk))
    large = [queries(client, u) for u in
             ("/api/v1/patients?limit=200", "/api/v1/caseload?limit=200", "/api/v1/flags")]
    assert small == large
    assert len(listed(world, "team_lead")) > 300
