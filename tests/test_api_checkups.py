"""Check-ups through the JSON API: instruments, scoring without storing, responses (create,
draft, update, submit), scores over time; item-level 422s; audit and flags as on the pages."""

import datetime

from django.utils import timezone

from tandem.assessment.models import CheckupSchedule, Response
from tandem.audit.models import AuditEvent
from tandem.monitoring.models import Flag
from tests.test_api import bearer

PHQ9 = {str(i): 1 for i in range(1, 10)} | {"9": 0}


def test_list_and_read_instruments(world):
    client, _ = bearer(world.users["practitioner"])
    codes = {i["code"] for i in client.get("/api/v1/instruments").json()}
    assert {"phq9", "gad7", "audit", "audit-c", "k10", "top", "life-domains"} <= codes
    phq9 = client.get("/api/v1/instruments/phq9").json()
    assert phq9["loinc"] == "44249-1" and len(phq9["items"]) == 9
    assert phq9["safety"][0]["item"] == "9" and "reproduce" in phq9["licence"]["terms"]
    assert client.get("/api/v1/instruments/nope").status_code == 404


def test_score_without_storing(world):
    client, _ = bearer(world.users["practitioner"])
    before = AuditEvent.objects.count()
    body = client.post("/api/v1/instruments/phq9/score", {"answers": PHQ9},
                       content_type="application/json").json()
    total = next(s for s in body["scales"] if s["code"] == "total")
    assert total["value"] == 8 and total["band"] == "Mild"
    assert body["safety"] == []
    # Two missing items: prorated (PHQ-9 allows up to two); three: no score.
    partial = {k: v for k, v in PHQ9.items() if k not in ("1", "2")}
    total = client.post("/api/v1/instruments/phq9/score", {"answers": partial},
                        content_type="application/json").json()["scales"][0]
    assert total["prorated"] and total["value"] == 8 and total["answered"] == 7
    assert Response.objects.count() == 0 and AuditEvent.objects.count() == before


def test_score_reports_each_bad_item(world):
    client, _ = bearer(world.users["practitioner"])
    reply = client.post("/api/v1/instruments/top/score",
                        {"answers": {"alcohol_w1": 8, "alcohol_w2": "x", "housing_acute": "maybe",
                                     "nonsense": 1}},
                        content_type="application/json")
    assert reply.status_code == 422
    assert reply.json()["detail"] == [
        {"loc": ["body", "answers", "alcohol_w1"], "msg": "Enter a whole number from 0 to 7 days."},
        {"loc": ["body", "answers", "alcohol_w2"], "msg": "Enter a whole number from 0 to 7 days."},
        {"loc": ["body", "answers", "housing_acute"], "msg": "Answer yes or no."},
        {"loc": ["body", "answers", "nonsense"], "msg": "This instrument has no such question."},
    ]


def test_create_a_completed_response_scores_stores_audits_and_schedules(world):
    client, _ = bearer(world.users["practitioner"])
    url = f"/api/v1/patients/{world.p1.pk}/responses"
    reply = client.post(url, {"instrument": "phq9", "mode": "phone", "answers": PHQ9},
                        content_type="application/json")
    assert reply.status_code == 201, reply.content
    body = reply.json()
    assert body["status"] == "completed" and body["headline"] == 8 and body["band"] == "Mild"
    assert body["mode"] == "phone" and body["entered_by"] == "practitioner"
    assert body["urgent_flags"] == []
    stored = Response.objects.get(pk=body["id"])
    assert stored.scores["total"] == 8
    assert AuditEvent.objects.filter(object_id=str(stored.pk), action="create").exists()
    assert CheckupSchedule.objects.get(patient=world.p1).next_due is not None


def test_missing_answers_name_each_item(world):
    client, _ = bearer(world.users["practitioner"])
    reply = client.post(f"/api/v1/patients/{world.p1.pk}/responses",
                        {"instrument": "gad7", "answers": {"1": 1}},
                        content_type="application/json")
    assert reply.status_code == 422
    assert [e["loc"][-1] for e in reply.json()["detail"]] == ["2", "3", "4", "5", "6", "7"]
    assert Response.objects.count() == 0


def test_safety_answer_through_the_api_raises_an_urgent_flag(world):
    client, _ = bearer(world.users["practitioner"])
    reply = client.post(f"/api/v1/patients/{world.p1.pk}/responses",
                        {"instrument": "phq9", "answers": PHQ9 | {"9": 3}},
                        content_type="application/json")
    flags = reply.json()["urgent_flags"]
    assert len(flags) == 1 and flags[0]["severity"] == "urgent"
    assert "Nearly every day" in flags[0]["evidence"]
    assert Flag.objects.get(patient=world.p1).response_id is not None


def test_draft_update_then_submit(world):
    client, _ = bearer(world.users["practitioner"])
    url = f"/api/v1/patients/{world.p1.pk}/responses"
    draft = client.post(url, {"instrument": "gad7", "answers": {"1": 2}, "submit": False},
                        content_type="application/json").json()
    assert draft["status"] == "in-progress" and draft["answers"] == {"1": 2}
    one = f"{url}/{draft['id']}"
    bad = client.patch(one, {"answers": {"2": 9}}, content_type="application/json")
    assert bad.status_code == 422
    assert client.get(one).json()["answers"] == {"1": 2}  # nothing lost, nothing half-saved
    client.patch(one, {"answers": {str(i): 1 for i in range(2, 8)}},
                 content_type="application/json")
    done = client.post(f"{one}/submit")
    assert done.status_code == 200 and done.json()["headline"] == 8
    assert client.post(f"{one}/submit").status_code == 409
    assert client.patch(one, {"answers": {"1": 0}},
                        content_type="application/json").status_code == 409
    listed = client.get(f"{url}?status=completed").json()
    assert [r["id"] for r in listed] == [draft["id"]]


def test_scores_over_time_with_reliable_change(world):
    client, _ = bearer(world.users["practitioner"])
    url = f"/api/v1/patients/{world.p1.pk}/responses"
    for days, value in ((60, 3), (30, 2), (1, 1)):
        answers = {str(i): value for i in range(1, 10)} | {"9": 0}
        when = (timezone.now() - datetime.timedelta(days=days)).isoformat()
        client.post(url, {"instrument": "phq9", "answers": answers, "completed_at": when},
                    content_type="application/json")
    body = client.get(f"/api/v1/patients/{world.p1.pk}/scores").json()
    total = next(t for t in body["trajectories"] if t["scale"] == "total")
    assert [p["value"] for p in total["points"]] == [24, 16, 8]
    assert [p["change"] for p in total["points"]] == [None, "reliably improved",
                                                        "reliably improved"]
    assert total["overall_change"] == "reliably improved"
    assert {n["instrument"] for n in body["next"]} == {"top", "life-domains", "phq9", "gad7"}


def test_future_completion_time_is_refused(world):
    client, _ = bearer(world.users["practitioner"])
    when = (timezone.now() + datetime.timedelta(days=2)).isoformat()
    reply = client.post(f"/api/v1/patients/{world.p1.pk}/responses",
                        {"instrument": "phq9", "answers": PHQ9, "completed_at": when},
                        content_type="application/json")
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "completed_at"]


def test_prescriber_reads_but_cannot_store(world):
    client, _ = bearer(world.users["prescriber"])
    url = f"/api/v1/patients/{world.p1.pk}/responses"
    assert client.get(url).status_code == 200
    assert client.post(url, {"instrument": "phq9", "answers": PHQ9},
                       content_type="application/json").status_code == 403


def batch(client, items):
    return client.post("/api/v1/responses", {"responses": items},
                       content_type="application/json")


def test_batch_stores_many_check_ups_with_audit_flags_and_schedules(world):
    client, _ = bearer(world.users["team_lead"])  # team A: p1 and p2
    items = [
        {"patient_id": str(world.p1.pk), "instrument": "phq9", "answers": PHQ9},
        {"patient_id": str(world.p2.pk), "instrument": "gad7",
         "answers": {str(i): 2 for i in range(1, 8)}, "mode": "phone"},
        {"patient_id": str(world.p2.pk), "instrument": "phq9", "answers": PHQ9 | {"9": 1}},
    ]
    before = AuditEvent.objects.count()
    reply = batch(client, items)
    assert reply.status_code == 201, reply.content
    body = reply.json()
    assert body["created"] == 3 and len(body["urgent_flags"]) == 1
    assert body["urgent_flags"][0]["patient_id"] == str(world.p2.pk)
    stored = {str(r.pk): r for r in Response.objects.all()}
    assert sorted(r.headline for r in stored.values()) == [8, 9, 14]
    assert {r.mode for r in stored.values()} == {"integration", "phone"}
    events = AuditEvent.objects.filter(action="create", object_type="response")
    assert AuditEvent.objects.count() == before + 3
    assert {e.object_id for e in events} == set(body["ids"])
    assert CheckupSchedule.objects.filter(patient__in=[world.p1, world.p2]).count() == 2
    assert Flag.objects.get().patient == world.p2
    from tandem.audit.trail import verify

    assert verify() == []  # the bulk append keeps the hash chain whole


def test_batch_is_all_or_nothing_and_names_every_problem(world):
    client, _ = bearer(world.users["practitioner"])  # only p1 is theirs
    items = [
        {"patient_id": str(world.p1.pk), "instrument": "phq9", "answers": PHQ9},
        {"patient_id": str(world.p3.pk), "instrument": "phq9", "answers": PHQ9},
        {"patient_id": str(world.p_other.pk), "instrument": "nope", "answers": {}},
        {"patient_id": str(world.p1.pk), "instrument": "gad7", "answers": {"1": 7}},
    ]
    reply = batch(client, items)
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    locs = [tuple(e["loc"][2:]) for e in detail]
    assert (1, "patient_id") in locs and (2, "patient_id") in locs and (2, "instrument") in locs
    assert (3, "answers", "1") in locs and (3, "answers", "7") in locs
    assert detail[locs.index((3, "answers", "1"))]["msg"] == "Choose one of the answers given."
    assert Response.objects.count() == 0


def test_prescriber_cannot_batch_and_batches_are_bounded(world):
    client, _ = bearer(world.users["prescriber"])
    item = {"patient_id": str(world.p1.pk), "instrument": "phq9", "answers": PHQ9}
    assert batch(client, [item]).status_code == 403
    lead, _ = bearer(world.users["team_lead"])
    assert batch(lead, []).status_code == 422
    assert batch(lead, [item] * 1001).status_code == 422
