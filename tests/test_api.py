import uuid

import pytest
from django.test import Client

from tandem.accounts.models import ApiToken


def bearer(user):
    _token, plain = ApiToken.issue(user, "test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {plain}"), plain


def test_bearer_token_reads_patients_and_is_stored_hashed(world):
    client, plain = bearer(world.users["practitioner"])
    response = client.get("/api/v1/patients")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["items"][0]["service_id"] == "T-001"
    assert not ApiToken.objects.filter(digest=plain).exists()
    assert plain not in str(list(ApiToken.objects.values()))


def test_revoked_or_wrong_tokens_are_refused(world):
    client, plain = bearer(world.users["practitioner"])
    ApiToken.objects.get().revoke()
    assert client.get("/api/v1/patients").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer nope").get("/api/v1/patients").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Basic abc").get("/api/v1/patients").status_code == 401
    assert Client().get("/api/v1/patients").status_code == 401


@pytest.mark.parametrize("path", [
    "/api/v1/patients/not-a-uuid",
    "/api/v1/patients/12345",
    "/api/v1/patients/{random}",
    "/api/v1/patients/{random}/episodes",
    "/api/v1/patients/{p1}/episodes/{random}",
    "/api/v1/patients/{p1}/episodes/nope",
    "/api/v1/nothing-here",
])
def test_unknown_or_malformed_ids_give_404_json(world, path):
    client, _ = bearer(world.users["practitioner"])
    url = path.format(random=uuid.uuid4(), p1=world.p1.pk)
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_read_patient_episodes_and_care_team(world):
    client, _ = bearer(world.users["prescriber"])
    patient = client.get(f"/api/v1/patients/{world.p1.pk}").json()
    assert patient["service_id"] == "T-001" and patient["team"] == "Team A"
    episodes = client.get(f"/api/v1/patients/{world.p1.pk}/episodes").json()
    assert episodes[0]["status"] == "active" and episodes[0]["fhir_status"] == "active"
    one = client.get(f"/api/v1/patients/{world.p1.pk}/episodes/{episodes[0]['id']}").json()
    assert one == episodes[0]
    team = client.get(f"/api/v1/patients/{world.p1.pk}/care-team").json()
    assert {m["role"] for m in team["members"]} == {"keyworker", "prescriber"}


def test_create_patient_and_field_level_errors(world):
    client, _ = bearer(world.users["practitioner"])
    good = {"service_id": "API-1", "given_name": "Ali", "family_name": "Khan",
            "date_of_birth": "1990-04-01", "team_id": world.team_a.pk,
            "episode_start_date": "2026-01-10"}
    response = client.post("/api/v1/patients", good, content_type="application/json")
    assert response.status_code == 201, response.content
    created = response.json()
    team = client.get(f"/api/v1/patients/{created['id']}/care-team").json()
    assert [m["role"] for m in team["members"]] == ["keyworker"]

    again = client.post("/api/v1/patients", good, content_type="application/json")
    assert again.status_code == 422
    assert again.json()["detail"] == [
        {"loc": ["body", "service_id"], "msg": "Another patient already has this service ID."}]

    bad = dict(good, service_id="API-2", date_of_birth="2999-01-01", team_id=world.team_b.pk)
    errors = client.post("/api/v1/patients", bad, content_type="application/json").json()
    locs = {tuple(e["loc"]) for e in errors["detail"]}
    assert locs == {("body", "date_of_birth"), ("body", "team_id")}

    typed = client.post("/api/v1/patients", dict(good, date_of_birth="yesterday"),
                        content_type="application/json")
    assert typed.status_code == 422
    assert any("date_of_birth" in e["loc"] for e in typed.json()["detail"])
    broken = client.post("/api/v1/patients", "{not json", content_type="application/json")
    assert broken.status_code in (400, 422)


def test_create_episode_rules_and_re_entry(world):
    client, _ = bearer(world.users["practitioner"])
    url = f"/api/v1/patients/{world.p1.pk}/episodes"
    busy = client.post(url, {"start_date": "2026-02-01", "setting": "community"},
                       content_type="application/json")
    assert busy.status_code == 422
    assert busy.json()["detail"][0]["loc"] == ["body", "start_date"]
    episode = world.p1.episodes.get()
    episode.status, episode.exit_date, episode.exit_reason = (
        "post-exit-monitoring", episode.start_date, "left")
    episode.save()
    created = client.post(url, {"start_date": str(episode.start_date), "setting": "residential"},
                          content_type="application/json")
    assert created.status_code == 201
    statuses = sorted(e["status"] for e in client.get(url).json())
    assert statuses == ["active", "finished"]
    wrong = client.post(url, {"start_date": "2026-02-01", "setting": "moon"},
                        content_type="application/json")
    assert wrong.status_code == 422 and "setting" in str(wrong.json())


def test_add_care_team_member_validation(world):
    client, _ = bearer(world.users["team_lead"])
    url = f"/api/v1/patients/{world.p1.pk}/care-team/members"
    ok = client.post(url, {"role": "housing", "name": "Hana Lee", "organisation_name": "City"},
                     content_type="application/json")
    assert ok.status_code == 201 and ok.json()["name"] == "Hana Lee"
    missing = client.post(url, {"role": "gp"}, content_type="application/json")
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "user_id"]
    not_prescriber = client.post(url, {"role": "prescriber",
                                       "user_id": world.users["practitioner"].pk},
                                 content_type="application/json")
    assert not_prescriber.json()["detail"] == [
        {"loc": ["body", "user_id"], "msg": "This colleague is not a prescriber."}]


def test_session_auth_needs_csrf_for_writes(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["practitioner"])
    response = client.post(f"/api/v1/patients/{world.p1.pk}/episodes",
                           {"start_date": "2026-02-01", "setting": "community"},
                           content_type="application/json")
    assert response.status_code in (401, 403)


def test_openapi_document_and_docs_page(world):
    client = world.client("auditor")
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/patients/{patient_id}/episodes" in schema["paths"]
    assert {"BearerToken", "SessionAuth"} <= set(schema["components"]["securitySchemes"])
    page = client.get("/api/v1/docs").content.decode()
    assert "GET /api/v1/patients" in page and "PatientIn" in page


def test_healthz(db):
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json()["database"] == "ok"
