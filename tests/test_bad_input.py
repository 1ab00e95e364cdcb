"""A NUL character (\\x00) is never part of valid text, and PostgreSQL refuses to store or even
compare it: anywhere a request carries one — a query parameter, a form field, the path, a
string or key of a JSON body — the answer is a 4xx naming where, never a 500. Most meaningful
with TANDEM_TEST_DATABASE_URL set (PostgreSQL); the answers are the same on SQLite."""

import json

import pytest
from django.test import Client

from tandem.accounts.models import ApiToken
from tandem.assessment.models import UploadedInstrument
from tandem.core import strict_json
from tandem.planning.models import Goal
from tests.test_goals import goal_data

PHQ9 = {str(i): 1 for i in range(1, 10)}


def bearer(user) -> Client:
    _token, plain = ApiToken.issue(user, "nul")
    return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")


@pytest.mark.parametrize("path,name", [
    ("/api/v1/patients?q=a%00b", "q"),
    ("/api/v1/flags?rule=%00", "rule"),
    ("/api/v1/caseload?q=x&flag=a%00", "flag"),
    ("/api/v1/patients/{p1}/responses?instrument=phq%009", "instrument"),
    ("/api/v1/patients/{p1}/timeline?kinds=checkup%00", "kinds"),
])
def test_nul_in_an_api_query_parameter_is_a_400_naming_it(world, path, name):
    reply = bearer(world.users["team_lead"]).get(path.format(p1=world.p1.pk))
    assert reply.status_code == 400, reply.content
    assert reply["Content-Type"].startswith("application/json")
    assert f"“{name}”" in reply.json()["detail"] and "NUL" in reply.json()["detail"]


def test_nul_in_a_query_parameter_name_is_refused_too(world):
    reply = bearer(world.users["team_lead"]).get("/api/v1/patients?a%00b=1")
    assert reply.status_code == 400 and "NUL" in reply.json()["detail"]


def test_nul_in_a_page_query_parameter_is_a_400_page_naming_it(world):
    reply = world.client("team_lead").get("/patients/?q=Pat%00")
    assert reply.status_code == 400
    assert reply["Content-Type"].startswith("text/html")
    assert "“q”" in reply.content.decode()


def test_nul_in_a_form_field_is_a_400_naming_it_and_nothing_is_saved(world):
    client = world.client("practitioner")
    data = goal_data(statement="Cut down\x00 to weekends")
    reply = client.post(f"/patients/{world.p1.pk}/goals/new/", data)
    assert reply.status_code == 400
    assert "“statement”" in reply.content.decode()
    assert not Goal.objects.exists()


def test_nul_in_the_sign_in_form_is_a_400(world):
    reply = Client().post("/accounts/login/", {"username": "practitioner\x00",
                                               "password": "x"})
    assert reply.status_code == 400
    assert "“username”" in reply.content.decode()


def test_nul_in_the_path_is_a_400(world):
    client = bearer(world.users["practitioner"])
    reply = client.post("/api/v1/instruments/phq%009/score", {"answers": PHQ9},
                        content_type="application/json")
    assert reply.status_code == 400
    assert "NUL" in reply.json()["detail"]


@pytest.mark.parametrize("body,loc", [
    ({"service_id": "N-1", "given_name": "Ali\x00", "family_name": "Khan",
      "date_of_birth": "1990-04-01", "team_id": 0, "episode_start_date": "2026-01-10"},
     ["body", "given_name"]),
    ({"service_id": "N-1", "given_name": "Ali", "family_name": "Khan", "pronouns": "\x00",
      "date_of_birth": "1990-04-01", "team_id": 0, "episode_start_date": "2026-01-10"},
     ["body", "pronouns"]),
])
def test_nul_in_a_json_string_is_a_422_naming_the_field(world, body, loc):
    body["team_id"] = world.team_a.pk
    reply = bearer(world.users["practitioner"]).post("/api/v1/patients", body,
                                                     content_type="application/json")
    assert reply.status_code == 422, reply.content
    [problem] = reply.json()["detail"]
    assert problem["loc"] == loc and "NUL" in problem["msg"]
    assert not world.org.patient_set.filter(service_id="N-1").exists()


def test_nul_deep_in_a_json_body_is_named_by_its_place(world):
    client = bearer(world.users["practitioner"])
    url = f"/api/v1/patients/{world.p1.pk}/responses"
    reply = client.post(url, {"instrument": "phq9", "answers": PHQ9 | {"9": "declined\x00"}},
                        content_type="application/json")
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "answers", "9"]
    reply = client.post(url, {"instrument": "phq9", "answers": PHQ9 | {"9\x00": 1}},
                        content_type="application/json")
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "answers"]
    assert "NUL" in reply.json()["detail"][0]["msg"]
    assert not world.p1.responses.exists()


def test_strict_json_names_the_place_of_a_nul():
    with pytest.raises(strict_json.JSONProblem) as problem:
        strict_json.loads('{"a": [1, {"b": "x\\u0000"}]}', refuse_nul=True)
    assert problem.value.loc == ("a", 1, "b")
    assert strict_json.loads('{"a": "x\\u0001"}', refuse_nul=True) == {"a": "x\x01"}
    assert strict_json.loads('"\\u0000"') == "\x00"  # only when asked


def test_nul_in_an_uploaded_questionnaire_is_refused_naming_the_field(world):
    """A \\u0000 escape in pasted or uploaded JSON text passes the form-field check (six ASCII
    characters) but would reach PostgreSQL as a NUL: refused, naming the field and the place."""
    from tests.test_checkup_settings import GOOD, upload

    client = world.client("service_admin")
    bad = dict(GOOD, title="Sleep\x00 (demo)")
    for sent, field in ((dict(text=json.dumps(bad)), "pasted definition"),
                        (dict(definition=bad), "definition file")):
        reply = upload(client, **sent)
        assert reply.status_code == 200
        page = reply.content.decode()
        assert f"The {field} holds an invisible control character" in page, page
        assert "(\\u0000) at title: remove it" in page
    assert not UploadedInstrument.objects.exists()


def test_the_400_page_uses_plain_words_and_the_api_keeps_the_technical_ones(world):
    page = world.client("patient").get("/portal/?until=2026%00").content.decode()
    assert "Part of what was sent could not be read (an invisible control character in " \
           "“until”). Please type it again." in page
    assert "NUL" not in page
    reply = bearer(world.users["team_lead"]).get("/api/v1/patients?q=a%00b")
    assert "NUL" in reply.json()["detail"]
