"""The medication API: plans (FHIR MedicationRequest names), dose requests, medication reviews
and dispensing; each endpoint's roles, a 409 for a stale version, a 422 naming the field for
every bad input and for every refusal of the dose rules."""

import datetime
import json

import pytest

from tandem.audit.models import AuditEvent
from tandem.medication.models import DoseChange, DoseRequest, MedicationPlan

TODAY = datetime.date.today()


def url(world, tail="", patient=None):
    return f"/api/v1/patients/{(patient or world.p1).pk}/{tail}"


def send(client, method, path, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.generic(method, path, data, content_type="application/json")


def plan_body(**changes):
    body = {
        "medication": {"code": "methadone"},
        "startedOn": (TODAY - datetime.timedelta(days=40)).isoformat(),
        "dosageInstruction": [{"doseAndRate": [{
            "doseRange": {"low": {"value": 20, "unit": "mg"}, "high": {"value": 90, "unit": "mg"}},
            "doseQuantity": {"value": 30, "unit": "mg"}}]}],
        "stepLimits": {"upMax": 10, "downMax": 10, "minDaysBetween": 3, "maxRise7Days": 20},
        "dispenseRequest": {"performer": {"display": "Canal Road Pharmacy"},
                            "supervisedDaysPerWeek": 6, "takeHomeDaysPerWeek": 1},
        "reviewDate": (TODAY + datetime.timedelta(days=60)).isoformat(),
        "selfSetting": True,
        "requestsApplyAtOnce": False,
        "reason": "Starting treatment",
    }
    body.update(changes)
    return body


def dose_and_rate(body):
    return body["dosageInstruction"][0]["doseAndRate"][0]


def start(world, **changes):
    reply = send(world.client("prescriber"), "POST", url(world, "medication-plans"),
                 plan_body(**changes))
    assert reply.status_code == 201, reply.content
    return reply.json()


def locs(reply) -> dict[str, str]:
    """{place: every message there, in one string}, from a 422."""
    assert reply.status_code == 422, (reply.status_code, reply.content[:500])
    found: dict[str, str] = {}
    for problem in reply.json()["detail"]:
        where = ".".join(str(p) for p in problem["loc"])
        found[where] = (found.get(where, "") + " " + problem["msg"]).strip()
    return found


# --- plans ---------------------------------------------------------------------------------


def test_a_prescriber_starts_a_plan_read_back_with_fhir_names(world):
    plan = start(world)
    assert plan["intent"] == "plan" and plan["status"] == "active"
    assert plan["medication"] == {"code": "methadone",
                                  "display": "Methadone oral solution 1 mg/ml"}
    dosage = plan["dosageInstruction"][0]
    assert dosage["doseAndRate"][0] == {
        "doseRange": {"low": {"value": 20, "unit": "mg"}, "high": {"value": 90, "unit": "mg"}},
        "doseQuantity": {"value": 30, "unit": "mg"}}
    assert dosage["maxDosePerPeriod"] == {"numerator": {"value": 90, "unit": "mg"},
                                          "denominator": {"value": 1, "unit": "d"}}
    assert plan["stepLimits"] == {"upMax": 10, "downMax": 10, "minDaysBetween": 3,
                                  "maxRise7Days": 20}
    assert plan["dispenseRequest"] == {"performer": {"display": "Canal Road Pharmacy"},
                                       "supervisedDaysPerWeek": 6, "takeHomeDaysPerWeek": 1}
    assert plan["selfSetting"] is True and plan["requestsApplyAtOnce"] is False
    assert plan["version"] == 1 and plan["versions"][0]["reason"] == "Starting treatment"
    assert plan["versions"][0]["changedBy"] == "Prescriber Tester"
    assert [(d["day"], d["dose"]["value"], d["kind"]) for d in plan["doseHistory"]] == [
        ((TODAY - datetime.timedelta(days=40)).isoformat(), 30, "start")]
    assert plan["ecgAsked"] is False and plan["reviewOverdue"] is False

    client = world.client("practitioner")
    listed = client.get(url(world, "medication-plans")).json()
    assert [p["id"] for p in listed] == [plan["id"]] and "versions" not in listed[0]
    one = client.get(url(world, f"medication-plans/{plan['id']}")).json()
    assert one == plan
    event = AuditEvent.objects.filter(actor=world.users["practitioner"], action="read").latest(
        "seq")
    assert (event.object_type, event.object_id) == ("medication-plan", plan["id"])
    assert AuditEvent.objects.filter(actor=world.users["prescriber"], action="create",
                                     object_type="medicationplan").exists()


def test_an_injection_plan_names_its_period(world):
    plan = start(world, medication={"code": "buprenorphine-injection-weekly"},
                 selfSetting=False, stepLimits={"upMax": 16, "downMax": 16,
                                                "minDaysBetween": 7, "maxRise7Days": 16},
                 dosageInstruction=[{"doseAndRate": [{
                     "doseRange": {"low": {"value": 8}, "high": {"value": 32}},
                     "doseQuantity": {"value": 16}}]}])
    assert plan["dosageInstruction"][0]["maxDosePerPeriod"]["denominator"] == {
        "value": 7, "unit": "d"}


def test_only_the_prescriber_on_the_care_team_sets_plans(world):
    body = plan_body()
    for role in ("practitioner", "team_lead", "patient", "service_admin"):
        assert send(world.client(role), "POST", url(world, "medication-plans"),
                    body).status_code == 403, role
    # Another patient's record is hidden, whoever asks.
    assert send(world.client("prescriber"), "POST", url(world, "medication-plans",
                                                        world.p3), body).status_code == 404
    assert world.client("practitioner").get(url(world, "medication-plans",
                                                world.p3)).status_code == 404
    assert not MedicationPlan.objects.exists()


def test_a_change_names_the_version_read_and_a_stale_one_is_409(world):
    plan = start(world)
    path = url(world, f"medication-plans/{plan['id']}")
    client = world.client("prescriber")
    change = plan_body(version=1, reason="Longer between changes")
    change["stepLimits"]["minDaysBetween"] = 5
    changed = send(client, "PUT", path, change)
    assert changed.status_code == 200, changed.content
    assert changed.json()["version"] == 2
    assert changed.json()["stepLimits"]["minDaysBetween"] == 5
    assert [v["reason"] for v in changed.json()["versions"]] == ["Starting treatment",
                                                                 "Longer between changes"]

    stale = plan_body(version=1, reason="Take-home days")
    stale["dispenseRequest"]["takeHomeDaysPerWeek"] = 0
    reply = send(client, "PUT", path, stale)
    assert reply.status_code == 409
    detail = reply.json()["detail"]
    assert detail["version"] == 2 and detail["current"]["version"] == 2
    fields = {c["field"]: (c["saved"], c["yours"]) for c in detail["changed"]}
    assert fields["stepLimits.minDaysBetween"] == (5, 3)
    assert fields["dispenseRequest.takeHomeDaysPerWeek"] == (1, 0)
    assert MedicationPlan.objects.get().version == 2  # nothing saved


def test_a_new_dose_keeps_the_step_limits(world):
    plan = start(world)
    path = url(world, f"medication-plans/{plan['id']}")
    client = world.client("prescriber")
    too_big = plan_body(version=1, reason="More")
    dose_and_rate(too_big)["doseQuantity"] = {"value": 45, "unit": "mg"}
    problems = locs(send(client, "PUT", path, too_big))
    assert "rise of 15 mg" in problems["body.dosageInstruction.0.doseAndRate.0.doseQuantity.value"]
    assert MedicationPlan.objects.get().version == 1 and DoseChange.objects.count() == 1

    fine = plan_body(version=1, reason="A little more")
    dose_and_rate(fine)["doseQuantity"] = {"value": 37.5, "unit": "mg"}
    reply = send(client, "PUT", path, fine)
    assert locs(reply)  # methadone is measured in whole mg
    dose_and_rate(fine)["doseQuantity"] = {"value": 38, "unit": "mg"}
    reply = send(client, "PUT", path, fine)
    assert reply.status_code == 200, reply.content
    assert reply.json()["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 38
    # Sending back the dose in force changes no dose.
    again = plan_body(version=2, reason="Review date")
    dose_and_rate(again)["doseQuantity"] = {"value": 38, "unit": "mg"}
    assert send(client, "PUT", path, again).status_code == 200
    assert DoseChange.objects.count() == 2


def test_a_plan_is_stopped_and_its_medicine_never_changes(world):
    plan = start(world)
    path = url(world, f"medication-plans/{plan['id']}")
    client = world.client("prescriber")
    other = plan_body(version=1, medication={"code": "buprenorphine"})
    assert "medication.code" in ".".join(locs(send(client, "PUT", path, other)))
    stopped = send(client, "PUT", path, plan_body(version=1, status="stopped",
                                                 reason="Moved away"))
    assert stopped.status_code == 200, stopped.content
    body = stopped.json()
    assert body["status"] == "stopped"
    assert body["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] is None
    again = send(client, "PUT", path, plan_body(version=2, reason="Change"))
    assert again.status_code == 409 and "stopped" in again.json()["detail"]


@pytest.mark.parametrize(("change", "where"), [
    (lambda b: dose_and_rate(b)["doseRange"]["high"].update(value=200),
     "body.dosageInstruction.0.doseAndRate.0.doseRange.high.value"),
    (lambda b: dose_and_rate(b)["doseQuantity"].update(value=40),
     "body.dosageInstruction.0.doseAndRate.0.doseQuantity.value"),
    (lambda b: dose_and_rate(b)["doseQuantity"].update(value=30.125),
     "body.dosageInstruction.0.doseAndRate.0.doseQuantity.value"),
    (lambda b: dose_and_rate(b).pop("doseQuantity"),
     "body.dosageInstruction.0.doseAndRate.0.doseQuantity"),
    (lambda b: dose_and_rate(b)["doseRange"]["low"].update(unit="ml"),
     "body.dosageInstruction.0.doseAndRate.0.doseRange.low.unit"),
    (lambda b: b.update(medication={"code": "heroin"}), "body.medication.code"),
    (lambda b: b.update(reviewDate=(TODAY + datetime.timedelta(days=120)).isoformat()),
     "body.reviewDate"),
    (lambda b: b.update(reviewDate="2026-02-30"), "body.reviewDate"),
    (lambda b: b.update(lastEcgOn=0), "body.lastEcgOn"),
    (lambda b: b.update(reviewDate=20260301), "body.reviewDate"),
    (lambda b: b.update(startedOn="1890-01-01"), "body.startedOn"),
    (lambda b: b.update(lastEcgOn=(TODAY + datetime.timedelta(days=3)).isoformat()),
     "body.lastEcgOn"),
    (lambda b: b["stepLimits"].update(minDaysBetween=0), "body.stepLimits.minDaysBetween"),
    (lambda b: b["stepLimits"].update(minDaysBetween=2.0), "body.stepLimits.minDaysBetween"),
    (lambda b: b["dispenseRequest"].update(takeHomeDaysPerWeek=2),
     "body.dispenseRequest.takeHomeDaysPerWeek"),
    (lambda b: b.update(selfSetting="yes"), "body.selfSetting"),
    (lambda b: b.update(episodeId="0b9bd4b4-3a4d-4d4e-9f51-3a5c1d0c0a11"), "body.episodeId"),
])
def test_every_bad_plan_is_422_naming_the_field(world, change, where):
    body = plan_body()
    change(body)
    problems = locs(send(world.client("prescriber"), "POST", url(world, "medication-plans"),
                         body))
    assert where in problems, problems
    assert not MedicationPlan.objects.exists()


@pytest.mark.parametrize(("raw", "where"), [
    ('"doseQuantity": {"value": 1e400, "unit": "mg"}',
     "body.dosageInstruction.0.doseAndRate.0.doseQuantity.value"),
    ('"doseQuantity": {"value": 30, "value": 3, "unit": "mg"}', "body"),
    ('"doseQuantity": {"value": ' + "9" * 40 + ', "unit": "mg"}',
     "body.dosageInstruction.0.doseAndRate.0.doseQuantity.value"),
    ('"doseQuantity": {"value": NaN, "unit": "mg"}', "body"),
])
def test_json_that_would_be_read_wrongly_is_422_never_500(world, raw, where):
    text = json.dumps(plan_body()).replace('"doseQuantity": {"value": 30, "unit": "mg"}', raw)
    problems = locs(send(world.client("prescriber"), "POST", url(world, "medication-plans"),
                         text))
    assert any(loc.startswith(where) for loc in problems), problems


def test_a_change_checks_its_fields_too(world):
    plan = start(world)
    path = url(world, f"medication-plans/{plan['id']}")
    client = world.client("prescriber")
    assert "body.version" in locs(send(client, "PUT", path, plan_body()))
    body = plan_body(version=1, reason=" ")
    assert "body.reason" in locs(send(client, "PUT", path, body))
    body = plan_body(version=1, reason="Later", doseFrom="9999-12-31", restart=True)
    assert "body.doseFrom" in locs(send(client, "PUT", path, body))
    body = plan_body(version=1, reason="Restart", restart=True)
    dose_and_rate(body)["doseQuantity"]["value"] = 40
    assert "start" in locs(send(client, "PUT", path, body))[
        "body.dosageInstruction.0.doseAndRate.0.doseQuantity.value"]
    assert send(client, "PUT", url(world, "medication-plans/" + "0" * 8 + "-0000-4000-8000-"
                                   + "0" * 12), plan_body(version=1)).status_code == 404


# --- dose requests -------------------------------------------------------------------------


def test_a_keyworker_asks_for_a_dose_and_the_prescriber_answers(world):
    plan = start(world)
    keyworker = world.client("practitioner")
    path = url(world, "dose-requests")
    outside = send(keyworker, "POST", path, {"dose": {"value": 95, "unit": "mg"}})
    assert "more than the highest dose agreed" in locs(outside)["body.dose.value"]
    asked = send(keyworker, "POST", path, {"dose": {"value": 35}, "note": "Withdrawal at night"})
    assert asked.status_code == 201, asked.content
    body = asked.json()
    assert (body["status"], body["dose"], body["currentDose"], body["onBehalf"]) == (
        "pending", {"value": 35, "unit": "mg"}, {"value": 30, "unit": "mg"}, True)
    assert body["planId"] == plan["id"] and body["askedBy"] == "Practitioner Tester"
    # One waits at a time.
    again = send(keyworker, "POST", path, {"dose": {"value": 35}})
    assert "already a request waiting" in locs(again)["body"]

    # Only the prescriber answers.
    approve, which = url(world, "dose-requests/approve"), {"requestId": body["id"]}
    assert send(keyworker, "POST", approve, which).status_code == 403
    assert send(world.client("team_lead"), "POST", approve, which).status_code == 403
    approved = send(world.client("prescriber"), "POST", approve, which)
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    assert approved.json()["answeredBy"] == "Prescriber Tester"
    history = world.client("prescriber").get(url(world, f"medication-plans/{plan['id']}"))
    assert [d["dose"]["value"] for d in history.json()["doseHistory"]] == [30, 35]
    twice = send(world.client("prescriber"), "POST", approve, which)
    assert twice.status_code == 409 and "already been answered" in twice.json()["detail"]

    listed = keyworker.get(path).json()
    assert listed["count"] == 1 and listed["items"][0]["status"] == "approved"
    assert keyworker.get(path + "?status=pending").json()["count"] == 0


def test_a_request_is_declined_with_words_for_the_patient(world):
    start(world)
    asked = send(world.client("team_lead"), "POST", url(world, "dose-requests"),
                 {"dose": {"value": 25}}).json()
    decline, which = url(world, "dose-requests/decline"), {"requestId": asked["id"]}
    prescriber = world.client("prescriber")
    assert "body.answer" in locs(send(prescriber, "POST", decline, which | {"answer": "  "}))
    assert "body.answer" in locs(send(prescriber, "POST", decline, which))
    assert "body.requestId" in locs(send(prescriber, "POST", decline, {"answer": "No"}))
    reply = send(prescriber, "POST", decline,
                 which | {"answer": "Let's talk at Thursday's review."})
    assert reply.status_code == 200 and reply.json()["status"] == "declined"
    assert DoseRequest.objects.get().answer == "Let's talk at Thursday's review."
    assert DoseChange.objects.count() == 1


def test_a_request_applies_at_once_when_the_plan_says_so(world):
    start(world, requestsApplyAtOnce=True)
    reply = send(world.client("practitioner"), "POST", url(world, "dose-requests"),
                 {"dose": {"value": 25, "unit": "mg"}, "fromDay": TODAY.isoformat()})
    assert reply.status_code == 201 and reply.json()["status"] == "applied"
    assert DoseChange.objects.filter(request_id=reply.json()["id"]).exists()


def test_requests_need_a_self_setting_plan_and_good_input(world):
    path = url(world, "dose-requests")
    keyworker = world.client("practitioner")
    assert "body.planId" in locs(send(keyworker, "POST", path, {"dose": {"value": 30}}))
    start(world, selfSetting=False)
    assert "talk to the prescriber" in locs(send(keyworker, "POST", path,
                                                 {"dose": {"value": 35}}))["body"]
    assert "body.fromDay" in locs(send(keyworker, "POST", path,
                                       {"dose": {"value": 35}, "fromDay": "2026-13-01"}))
    assert "body.dose.value" in locs(send(keyworker, "POST", path,
                                          {"dose": {"value": "lots"}}))
    assert send(world.client("prescriber"), "POST", path,
                {"dose": {"value": 35}}).status_code == 403


@pytest.mark.parametrize("request_id", ["99999999999999999999999", "0", '"abc"', "1.0",
                                        "9223372036854775808", "12"])
def test_a_request_id_no_database_holds_is_a_422_never_a_500(world, request_id):
    reply = send(world.client("prescriber"), "POST", url(world, "dose-requests/approve"),
                 '{"requestId": ' + request_id + '}')
    assert "body.requestId" in locs(reply)


def test_another_patients_request_is_not_theirs(world):
    plan, asked = _plan_with_request(world, world.p1)
    p2_lead = world.client("team_lead")  # the team lead sees both patients
    reply = send(p2_lead, "POST", url(world, "dose-requests/decline", world.p2),
                 {"requestId": asked.pk, "answer": "No"})
    assert reply.status_code == 403  # only a prescriber answers
    reply = send(world.client("prescriber"), "POST", url(world, "dose-requests/approve",
                                                         world.p2), {"requestId": asked.pk})
    assert reply.status_code == 404  # p2 is not on the prescriber's care teams
    from tandem.patients.models import CareTeamMember

    CareTeamMember.objects.create(organisation=world.org, care_team=world.p2.care_team,
                                  user=world.users["prescriber"], role="prescriber",
                                  start_date=TODAY)
    reply = send(world.client("prescriber"), "POST", url(world, "dose-requests/approve",
                                                         world.p2), {"requestId": asked.pk})
    assert "body.requestId" in locs(reply)  # p1's request, asked through p2's record
    assert DoseRequest.objects.get().status == "pending"


def _plan_with_request(world, patient):
    from tests.test_permissions import api_medication_for

    return api_medication_for(patient, world)


# --- the OpenAPI document ------------------------------------------------------------------


def test_the_openapi_document_describes_the_medication_endpoints(world):
    schema = world.client("practitioner").get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for tail in ("medication-plans", "medication-plans/{plan_id}", "dose-requests",
                 "dose-requests/approve", "dose-requests/decline", "medication-reviews",
                 "dispensing"):
        assert f"/api/v1/patients/{{patient_id}}/{tail}" in paths, tail
    put = paths["/api/v1/patients/{patient_id}/medication-plans/{plan_id}"]["put"]
    assert {"200", "409", "422"} <= set(put["responses"])
    components = schema["components"]["schemas"]
    assert "maxDosePerPeriod" in components["DosageOut"]["properties"]
    assert components["AnswerIn"]["properties"]["requestId"]["maximum"] == 2**63 - 1


# --- medication reviews --------------------------------------------------------------------


def review_body(**changes):
    body = {"version": 1, "adequacy": "right", "useOnTop": "Cannabis at weekends",
            "sideEffects": "Constipation", "patientView": "I feel settled on this dose.",
            "substanceGoal": "stable", "goalChosenBy": "patient",
            "nextReview": (TODAY + datetime.timedelta(days=80)).isoformat()}
    body.update(changes)
    return body


def test_the_prescriber_holds_a_review_which_moves_the_plans_review_date(world):
    plan = start(world)
    path = url(world, "medication-reviews")
    assert send(world.client("practitioner"), "POST", path, review_body()).status_code == 403
    reply = send(world.client("prescriber"), "POST", path, review_body())
    assert reply.status_code == 201, reply.content
    review = reply.json()
    assert (review["planId"], review["heldOn"], review["substanceGoal"],
            review["goalChosenBy"], review["goalDiscussed"]) == (
        plan["id"], TODAY.isoformat(), "stable", "patient", True)
    after = world.client("practitioner").get(url(world, f"medication-plans/{plan['id']}"))
    assert after.json()["version"] == 2
    assert after.json()["reviewDate"] == review["nextReview"]
    listed = world.client("team_lead").get(path).json()
    assert [r["id"] for r in listed] == [review["id"]]
    # The same version again is stale: the review moved the plan on.
    stale = send(world.client("prescriber"), "POST", path, review_body())
    assert stale.status_code == 409 and "changed this plan" in stale.json()["detail"]


@pytest.mark.parametrize(("changes", "where"), [
    ({"patientView": "  "}, "body.patientView"),
    ({"nextReview": (TODAY + datetime.timedelta(days=200)).isoformat()}, "body.nextReview"),
    ({"nextReview": "2026-02-29"}, "body.nextReview"),
    ({"heldOn": (TODAY + datetime.timedelta(days=1)).isoformat()}, "body.heldOn"),
    ({"heldOn": "1899-12-31"}, "body.heldOn"),
    ({"substanceGoal": "abstinence"}, "body.substanceGoal"),
    ({"adequacy": None}, "body.adequacy"),
    ({"version": 2**40}, "body.version"),
    ({"goalDiscussed": "no"}, "body.goalDiscussed"),
])
def test_a_bad_review_is_422_naming_the_field(world, changes, where):
    start(world)
    problems = locs(send(world.client("prescriber"), "POST", url(world, "medication-reviews"),
                         review_body(**changes)))
    assert where in problems, problems


# --- dispensing ----------------------------------------------------------------------------


def test_the_pharmacy_reports_days_and_three_missed_in_a_row_need_the_prescriber(world):
    from django.utils import timezone

    from tandem.medication.models import PlanVersion

    start(world)
    # The plan was set ten days ago: the prescriber has not seen the patient since.
    PlanVersion.objects.update(changed_at=timezone.now() - datetime.timedelta(days=10))
    path = url(world, "dispensing")
    days = [{"date": (TODAY - datetime.timedelta(days=n)).isoformat(), "status": status}
            for n, status in ((4, "supervised"), (3, "home"), (2, "missed"), (1, "missed"),
                              (0, "missed"))]
    assert send(world.client("patient"), "POST", path, {"days": days}).status_code == 403
    reply = send(world.client("practitioner"), "POST", path, {"days": days})
    assert reply.status_code == 201, reply.content
    body = reply.json()
    assert body["changed"] == 5 and body["needsPrescriber"] is True
    assert body["missedInARow"] == [d["date"] for d in days[2:]]
    listed = world.client("prescriber").get(path).json()
    assert listed["count"] == 5
    assert [(d["date"], d["status"], d["source"]) for d in listed["items"][:2]] == [
        (days[4]["date"], "missed", "api"), (days[3]["date"], "missed", "api")]
    assert world.client("prescriber").get(path + "?status=home").json()["count"] == 1
    since = (TODAY - datetime.timedelta(days=1)).isoformat()
    assert world.client("prescriber").get(path + f"?since={since}").json()["count"] == 2
    for bad in ("until=0", "since=2026-02-30", "until=1.5"):
        reply = world.client("prescriber").get(f"{path}?{bad}")
        assert reply.status_code == 422, bad
    # Asking for a dose now needs the prescriber.
    refused = send(world.client("practitioner"), "POST", url(world, "dose-requests"),
                   {"dose": {"value": 35}})
    assert "prescriber needs to see you" in locs(refused)["body"]
    # The same report again changes nothing; a correction replaces one day.
    assert send(world.client("prescriber"), "POST", path,
                {"days": days}).json()["changed"] == 0
    fixed = send(world.client("team_lead"), "POST", path,
                 {"days": [{"date": days[4]["date"], "status": "supervised"}]})
    assert fixed.status_code == 201
    assert (fixed.json()["changed"], fixed.json()["missedInARow"],
            fixed.json()["needsPrescriber"]) == (1, [], False)


@pytest.mark.parametrize(("days", "where"), [
    ([{"date": (TODAY + datetime.timedelta(days=1)).isoformat(), "status": "missed"}],
     "body.days.0.date"),
    ([{"date": "2026-02-30", "status": "missed"}], "body.days.0.date"),
    ([{"date": "1900-01-01", "status": "missed"}], "body.days.0.date"),
    ([{"date": TODAY.isoformat(), "status": "lost"}], "body.days.0.status"),
    ([{"date": TODAY.isoformat(), "status": "home"},
      {"date": TODAY.isoformat(), "status": "missed"}], "body.days.1.date"),
    ([], "body.days"),
])
def test_a_bad_dispensing_report_is_422_naming_the_day(world, days, where):
    start(world)
    problems = locs(send(world.client("practitioner"), "POST", url(world, "dispensing"),
                         {"days": days}))
    assert where in problems, problems
    from tandem.medication.models import DispensingDay

    assert not DispensingDay.objects.exists()


# --- the audit trail -----------------------------------------------------------------------


@pytest.mark.parametrize(("tail", "part"), [
    ("medication-plans", "medication-plans"),
    ("dose-requests", "dose-requests"),
    ("medication-reviews", "medication-reviews"),
    ("dispensing", "dispensing"),
])
def test_every_medication_read_is_recorded_with_its_part(world, tail, part):
    start(world)
    reply = world.client("team_lead").get(url(world, tail))
    assert reply.status_code == 200
    event = AuditEvent.objects.filter(actor=world.users["team_lead"], action="read").latest(
        "seq")
    assert (event.patient_id, event.object_type) == (world.p1.pk, part)


def test_every_medication_change_is_recorded_by_the_service_that_makes_it(world):
    plan = start(world)
    send(world.client("practitioner"), "POST", url(world, "dose-requests"),
         {"dose": {"value": 35}})
    send(world.client("practitioner"), "POST", url(world, "dispensing"),
         {"days": [{"date": TODAY.isoformat(), "status": "supervised"}]})
    send(world.client("prescriber"), "POST", url(world, "medication-reviews"), review_body())
    changed = set(AuditEvent.objects.filter(patient=world.p1, action__in=["create", "update"])
                  .values_list("object_type", flat=True))
    assert {"medicationplan", "doserequest", "dispensingday", "medicationreview"} <= changed
    assert plan["id"]
