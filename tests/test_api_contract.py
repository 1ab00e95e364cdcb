"""The API keeps its contract: ids in the path are typed (a bad one is a 404, never a 500),
paging cannot overflow a database integer, every 4xx an operation can answer is in the OpenAPI
document with its body, check-up times out of range are refused naming the field, and the
timeline only emits valid RFC 3339 date-times."""

import datetime
import re
import uuid

import pytest
from django.test import Client
from django.urls import get_resolver
from django.utils import timezone

from tandem.accounts.models import ApiToken
from tandem.caseload import entries as caseload
from tandem.monitoring.models import Contact
from tandem.patients.models import Episode
from tests.conftest import make_patient

PHQ9 = {str(i): 1 for i in range(1, 10)}
HUGE = "9223372036854775808"  # 2**63: one past the largest 64-bit integer
HUGER = "99999999999999999999"


def bearer(user) -> Client:
    _token, plain = ApiToken.issue(user, "contract")
    return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")


def api_patterns():
    """(route, pattern) for every URL the JSON API serves."""
    found = []

    def walk(patterns, prefix):
        for p in patterns:
            route = prefix + str(p.pattern)
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns, route)
            else:
                found.append(route)

    walk(get_resolver().url_patterns, "")
    return [r for r in found if r.startswith("api/v1/") and r != "api/v1/docs"]


def test_every_id_in_an_api_path_is_typed_as_a_uuid():
    untyped = [route for route in api_patterns()
               for name in re.findall(r"<([^>]+)>", route)
               if name.endswith("_id") and name.partition(":")[0] not in ("uuid", "uuidstr")]
    assert untyped == []


@pytest.mark.parametrize("method,path", [
    ("get", "/api/v1/patients/abc/timeline"),
    ("get", "/api/v1/patients/abc/flags"),
    ("post", "/api/v1/patients/abc/flags/x/acknowledge"),
    ("post", "/api/v1/patients/abc/flags/x/resolve"),
    ("post", "/api/v1/patients/{p1}/flags/x/acknowledge"),
    ("post", "/api/v1/patients/{p1}/flags/x/resolve"),
    ("post", "/api/v1/patients/{p1}/flags/{random}/resolve"),
    # The same patient, written another way: one id, one form, as on every other URL.
    ("get", "/api/v1/patients/{p1_hex}/timeline"),
    ("get", "/api/v1/patients/{p1_upper}/flags"),
])
def test_bad_ids_in_flag_and_timeline_paths_are_404_with_a_message(world, method, path):
    client = bearer(world.users["practitioner"])
    url = path.format(p1=world.p1.pk, random=uuid.uuid4(), p1_hex=world.p1.pk.hex,
                      p1_upper=str(world.p1.pk).upper())
    reply = getattr(client, method)(url, {"action_taken": "Rang them"},
                                    content_type="application/json")
    assert reply.status_code == 404, reply.content
    assert reply.json()["detail"]


LISTS = ["/api/v1/patients", "/api/v1/flags", "/api/v1/caseload",
         "/api/v1/patients/{p1}/flags"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("name,value", [("offset", HUGE), ("limit", HUGE), ("offset", HUGER),
                                        ("offset", str(2**63 - 1))])
def test_paging_past_any_integer_is_a_422_naming_the_parameter(world, path, name, value):
    client = bearer(world.users["team_lead"])
    reply = client.get(path.format(p1=world.p1.pk), {name: value})
    assert reply.status_code == 422, reply.content
    assert [e["loc"] for e in reply.json()["detail"]] == [["query", name]]


def test_paging_at_the_largest_offset_allowed_is_an_empty_page(world):
    client = bearer(world.users["team_lead"])
    for path in LISTS:
        reply = client.get(path.format(p1=world.p1.pk), {"offset": 2**31 - 1})
        assert reply.status_code == 200, (path, reply.content)
        body = reply.json()
        assert body.get("items", body.get("results")) == []


def test_caseload_team_filter_past_any_integer_is_a_422(world):
    reply = bearer(world.users["team_lead"]).get("/api/v1/caseload", {"team": HUGE})
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["query", "team"]


@pytest.mark.parametrize("page", [HUGER, HUGE, str(10**12)])
def test_caseload_page_past_the_end_shows_the_last_page(world, page):
    for n in range(30):  # two pages for the team lead
        make_patient(world.org, world.team_a, f"T-1{n:02d}")
    client = world.client("team_lead")
    reply = client.get("/patients/", {"page": page})
    assert reply.status_code == 200
    assert reply.context["page"].number == 2
    assert len(reply.context["page"].object_list) == 32 - 25  # p1, p2 and the 30


def test_caseload_query_clamps_offset_and_limit(world):
    rows, counts = caseload.caseload(world.users["team_lead"], offset=10**30, limit=10**30)
    assert rows == [] and counts["total"] == 2


# --- the OpenAPI document -------------------------------------------------------------------


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            yield f"{method.upper()} {path}", op


def resolve(schema, ref_or_schema):
    if "$ref" in ref_or_schema:
        return schema["components"]["schemas"][ref_or_schema["$ref"].rsplit("/", 1)[-1]]
    return ref_or_schema


@pytest.fixture
def openapi(world):
    return world.client("practitioner").get("/api/v1/openapi.json").json()


def test_every_operation_documents_the_4xx_it_can_answer_with_its_body(openapi):
    missing = []
    for name, op in operations(openapi):
        codes = {str(code) for code in op["responses"]}
        expected = {"400", "401", "403", "422"}
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            expected.add("404")
        missing += [(name, code) for code in sorted(expected - codes)]
        for code in expected & codes:
            body = op["responses"][code]["content"]["application/json"]["schema"]
            assert "detail" in resolve(openapi, body)["properties"], (name, code)
    assert missing == []


@pytest.mark.parametrize("operation", [
    "PATCH /api/v1/patients/{patient_id}/responses/{response_id}",
    "POST /api/v1/patients/{patient_id}/responses/{response_id}/submit",
    "GET /api/v1/patients/{patient_id}/sorts/{session_id}/comparison",
    "PUT /api/v1/patients/{patient_id}/sorts/{session_id}/{voice}",
    "PUT /api/v1/patients/{patient_id}/goals/{goal_id}",
])
def test_operations_that_can_conflict_document_409(openapi, operation):
    ops = dict(operations(openapi))
    assert "409" in {str(c) for c in ops[operation]["responses"]}


def test_422_body_names_each_problem_by_place(openapi):
    ops = dict(operations(openapi))
    body = ops["POST /api/v1/patients"]["responses"]["422"]["content"]["application/json"]
    detail = resolve(openapi, body["schema"])["properties"]["detail"]
    item = resolve(openapi, detail["items"])
    assert {"loc", "msg"} <= set(item["required"])


# --- check-up times -------------------------------------------------------------------------


@pytest.mark.parametrize("when,msg", [
    ("0001-01-01T00:00:00Z", "before"),
    ("0001-01-01T00:00:00+14:00", "before"),
    ("9999-12-31T23:59:59-12:00", "future"),
    ("1985-05-16T12:00:00Z", "born"),  # the day before p1's birth
])
def test_completed_at_out_of_range_is_a_422_naming_the_field(world, when, msg):
    client = bearer(world.users["practitioner"])
    reply = client.post(f"/api/v1/patients/{world.p1.pk}/responses",
                        {"instrument": "phq9", "answers": PHQ9, "completed_at": when},
                        content_type="application/json")
    assert reply.status_code == 422, reply.content
    [problem] = reply.json()["detail"]
    assert problem["loc"][-1] == "completed_at" and msg in problem["msg"]


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "1985-05-16T12:00:00Z",
                                  "9999-12-31T23:59:59Z"])
def test_batch_completed_at_out_of_range_is_a_422_naming_its_place(world, when):
    client = bearer(world.users["team_lead"])
    items = [{"patient_id": str(world.p2.pk), "instrument": "phq9", "answers": PHQ9},
             {"patient_id": str(world.p1.pk), "instrument": "phq9", "answers": PHQ9,
              "completed_at": when}]
    reply = client.post("/api/v1/responses", {"responses": items},
                        content_type="application/json")
    assert reply.status_code == 422, reply.content
    locs = [p["loc"] for p in reply.json()["detail"]]
    assert locs and all(loc[-3:] == ["responses", 1, "completed_at"] or
                        loc[-2:] == [1, "completed_at"] for loc in locs), locs
    assert not world.p2.responses.exists()  # all or nothing


def test_completed_at_without_an_offset_is_read_in_the_service_time_zone(world):
    client = bearer(world.users["practitioner"])
    when = (timezone.localtime() - datetime.timedelta(days=1)).replace(tzinfo=None, microsecond=0)
    reply = client.post(f"/api/v1/patients/{world.p1.pk}/responses",
                        {"instrument": "phq9", "answers": PHQ9,
                         "completed_at": when.isoformat()}, content_type="application/json")
    assert reply.status_code == 201, reply.content
    stored = world.p1.responses.get().completed_at
    assert timezone.localtime(stored).replace(tzinfo=None) == when


# --- the timeline ---------------------------------------------------------------------------

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@pytest.mark.parametrize("zone", ["Europe/London", "Europe/Berlin", "America/New_York"])
def test_timeline_emits_only_rfc3339_date_times_even_for_extreme_dates(world, settings, zone):
    settings.TIME_ZONE = zone
    patient = world.p1
    Episode.objects.filter(patient=patient).update(start_date=datetime.date(1, 1, 1))
    for day in (datetime.date(1, 1, 1), datetime.date(9999, 12, 31)):
        Contact.objects.create(organisation=world.org, patient=patient, on=day, method="phone",
                               recorded_by=world.users["practitioner"])
    caseload.refresh([patient.pk])
    reply = bearer(world.users["practitioner"]).get(f"/api/v1/patients/{patient.pk}/timeline")
    assert reply.status_code == 200, reply.content
    ats = [e["at"] for e in reply.json()]
    assert len(ats) == 3
    assert [a for a in ats if not RFC3339.match(a)] == []
    assert ats[0].startswith("9999-12-31") and ats[-1].startswith("0001-01-01")


def test_timeline_kinds_are_documented_as_a_pattern(openapi):
    ops = dict(operations(openapi))
    [kinds] = [p for p in ops["GET /api/v1/patients/{patient_id}/timeline"]["parameters"]
               if p["name"] == "kinds"]
    pattern = re.compile(kinds["schema"]["pattern"])
    assert pattern.fullmatch("checkup,flag-raised") and pattern.fullmatch("")
    assert not pattern.fullmatch("checkup,nonsense")


# --- what schemathesis found ----------------------------------------------------------------


def test_a_method_the_url_does_not_take_is_a_405_saying_which_it_does(world):
    reply = bearer(world.users["practitioner"]).generic("TRACE", "/api/v1/patients")
    assert reply.status_code == 405
    assert set(reply["Allow"].split(", ")) == {"GET", "POST"}


def test_json_bodies_are_not_coerced_to_booleans_or_integers(world):
    client = bearer(world.users["practitioner"])
    url = f"/api/v1/patients/{world.p1.pk}/responses"
    reply = client.post(url, {"instrument": "phq9", "answers": PHQ9, "submit": 0},
                        content_type="application/json")
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"][-1] == "submit"
    reply = client.post("/api/v1/patients", {
        "service_id": "S-1", "given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01",
        "team_id": str(world.team_a.pk), "episode_start_date": "2026-01-10"},
        content_type="application/json")
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"][-1] == "team_id"
    assert not world.p1.responses.exists()


# --- what is a format rule is in the document, not only in the server ---------------------------


def _strings(node, where=""):
    """(place, schema) of every string schema in the document."""
    if isinstance(node, dict):
        if node.get("type") == "string":
            yield where, node
        for key, value in node.items():
            yield from _strings(value, f"{where}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _strings(value, f"{where}/{n}")


def test_free_text_in_the_document_excludes_nul_and_input_text_has_a_length():
    """The server refuses NUL in any text (400/422), so the document says so: a schema-valid
    request is never refused for it. Every text a request body takes has a maximum length."""
    import re as regex

    from tandem.api.urls import api

    document = api.get_openapi_schema()
    free = [(where, schema) for where, schema in _strings(document)
            if not {"format", "enum", "const"} & set(schema)]
    takes_nul = [where for where, schema in free
                 if regex.search(schema.get("pattern", ""), "a\x00b")]
    assert free and not takes_nul, takes_nul
    schemas = document["components"]["schemas"]
    for name in ("GoalIn", "ReviewIn", "ResolveIn", "CardIn", "PatientIn", "MemberIn"):
        unbounded = [where for where, schema in _strings(schemas[name])
                     if not {"format", "enum", "const", "maxLength"} & set(schema)]
        assert not unbounded, (name, unbounded)


@pytest.mark.parametrize("path, body, field", [
    ("episodes/{episode}", {"version": 1, "exit_reason": "zzz"}, "exit_reason"),
    ("", {"version": 1, "preferred_contact": "pigeon"}, "preferred_contact"),
])
def test_a_422_names_the_field_as_the_client_sent_it(world, path, body, field):
    """["body", "exit_reason"], not ninja's ["body", "body", "exit_reason"]."""
    episode = world.p1.episodes.get()
    url = f"/api/v1/patients/{world.p1.pk}/" + path.format(episode=episode.pk)
    reply = bearer(world.users["practitioner"]).patch(url.rstrip("/"), body,
                                                      content_type="application/json")
    assert reply.status_code == 422
    assert [p["loc"] for p in reply.json()["detail"]] == [["body", field]]


def test_every_operation_names_its_body_as_the_422_handler_expects():
    """validation_error takes the body parameter's name out of `loc`; an operation naming its
    body otherwise would answer 422s in another shape."""
    from tandem.api.urls import BODY_PARAMETERS, api

    names = {name for _prefix, router in api._routers
             for view in router.path_operations.values() for operation in view.operations
             for model in operation.models if model.__ninja_param_source__ == "body"
             for name in model.model_fields}
    assert names and names <= BODY_PARAMETERS


def test_every_api_schema_has_its_own_name():
    """The OpenAPI document names each schema by its class name alone, so two classes of one
    name in different modules would silently share one component and one would be described
    wrongly (a CI contract run caught the medication plan described as the care plan)."""
    import importlib
    import pkgutil

    from ninja import Schema

    import tandem.api

    for info in pkgutil.iter_modules(tandem.api.__path__):
        importlib.import_module(f"tandem.api.{info.name}")

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    seen: dict[str, str] = {}
    clashes = []
    for cls in subclasses(Schema):
        if not cls.__module__.startswith("tandem."):
            continue
        where = f"{cls.__module__}.{cls.__qualname__}"
        if cls.__name__ in seen and seen[cls.__name__] != where:
            clashes.append((seen[cls.__name__], where))
        seen.setdefault(cls.__name__, where)
    assert clashes == []
