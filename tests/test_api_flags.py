"""Flags, the caseload and the timeline through the JSON API: same permissions, same audit."""

from tandem.audit.models import AuditEvent
from tandem.monitoring.models import Flag


def make_flag(world, patient=None, rule="housing", severity="high", key="h"):
    return Flag.objects.create(organisation=world.org, patient=patient or world.p1, rule=rule,
                               evidence_key=key, severity=severity,
                               evidence="At the check-up on 3 March 2026 they reported a risk "
                                        "of eviction.")


def test_flags_are_listed_filtered_acknowledged_and_resolved(world):
    housing = make_flag(world)
    make_flag(world, rule="no-contact", severity="medium", key="n")
    make_flag(world, patient=world.p3, key="other-team")
    api = world.client("practitioner")
    listed = api.get("/api/v1/flags").json()
    assert {f["rule"] for f in listed["items"]} == {"housing", "no-contact"}  # not p3's
    high = api.get("/api/v1/flags?severity=high").json()["items"]
    assert [f["id"] for f in high] == [str(housing.pk)]
    assert api.get("/api/v1/flags?status=nonsense").status_code == 422
    base = f"/api/v1/patients/{world.p1.pk}/flags/{housing.pk}"
    ack = api.post(f"{base}/acknowledge")
    assert ack.status_code == 200 and ack.json()["acknowledged_by"] == "Practitioner Tester"
    empty = api.post(f"{base}/resolve", {"action_taken": " "}, content_type="application/json")
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "action_taken"]
    done = api.post(f"{base}/resolve", {"action_taken": "Referred to Housing Options"},
                    content_type="application/json")
    assert done.status_code == 200 and done.json()["status"] == "inactive"
    again = api.post(f"{base}/resolve", {"action_taken": "Again"},
                     content_type="application/json")
    assert again.status_code == 422
    assert world.client("prescriber").post(f"{base}/acknowledge").status_code == 403
    assert AuditEvent.objects.filter(action="update", object_type="flag").count() == 2


def test_caseload_and_timeline(world):
    make_flag(world)
    api = world.client("practitioner")
    body = api.get("/api/v1/caseload").json()
    assert body["counts"]["flagged"] == 1 and body["count"] == 1
    (row,) = body["results"]
    assert row["need"] == 1 and row["need_label"] == "High"
    assert row["reasons"][0].startswith("Housing problem") or "eviction" in row["reasons"][0]
    assert api.get("/api/v1/caseload?flag=no-contact").json()["count"] == 0
    lead = world.client("team_lead").get("/api/v1/caseload?sort=name").json()
    assert lead["count"] == 2
    events = api.get(f"/api/v1/patients/{world.p1.pk}/timeline").json()
    assert any(e["kind"] == "flag-raised" for e in events)
    assert any(e["kind"] == "episode" for e in events)
    only = api.get(f"/api/v1/patients/{world.p1.pk}/timeline?kinds=episode").json()
    assert {e["kind"] for e in only} == {"episode"}
    bad = api.get(f"/api/v1/patients/{world.p1.pk}/timeline?kinds=episode,bogus")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "kinds"]
    assert api.get(f"/api/v1/patients/{world.p3.pk}/timeline").status_code == 404
    assert AuditEvent.objects.filter(action="search").exists()
