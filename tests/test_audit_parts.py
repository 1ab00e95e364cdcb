"""Each audit event names what was viewed or changed (the plan, a check-up, the flags...), not
just "patient"; auditors read it in words, on the page and in the export."""

import csv
import io
import logging

import pytest
from django.core.management import call_command

from tandem.audit import parts, trail
from tandem.audit.models import AuditEvent
from tandem.web import permissions
from tests.test_permissions import all_url_names, flag_for, plan_for


def last_read(world, user="practitioner"):
    return (AuditEvent.objects.filter(actor=world.users[user], action="read")
            .latest("seq"))


@pytest.mark.parametrize(("url", "part"), [
    ("/patients/{p}/", "summary"),
    ("/patients/{p}/plan/", "plan"),
    ("/patients/{p}/plan/print/", "plan-print"),
    ("/patients/{p}/checkups/", "checkups"),
    ("/patients/{p}/goals/", "goals"),
    ("/patients/{p}/priorities/", "priorities"),
    ("/patients/{p}/timeline/", "timeline"),
    ("/patients/{p}/flags/", "flags"),
    ("/patients/{p}/edit/", "details"),
    ("/patients/{p}/contacts/new/", "contacts"),
    ("/api/v1/patients/{p}", "details"),
    ("/api/v1/patients/{p}/episodes", "episodes"),
    ("/api/v1/patients/{p}/care-team", "care-team"),
    ("/api/v1/patients/{p}/responses", "checkups"),
    ("/api/v1/patients/{p}/scores", "scores"),
    ("/api/v1/patients/{p}/goals", "goals"),
    ("/api/v1/patients/{p}/flags", "flags"),
    ("/api/v1/patients/{p}/timeline", "timeline"),
])
def test_each_page_and_endpoint_records_the_part_of_the_record_it_shows(world, url, part):
    plan_for(world.p1, world)
    response = world.client("practitioner").get(url.format(p=world.p1.pk))
    assert response.status_code == 200, response.content[:300]
    event = last_read(world)
    assert (event.patient, event.object_type) == (world.p1, part)
    assert event.path == url.format(p=world.p1.pk)


def test_a_page_about_one_item_names_the_item_too(world):
    flag = flag_for(world.p1)
    plan = plan_for(world.p1, world)
    review = plan.reviews.get()
    client = world.client("practitioner")
    client.get(f"/patients/{world.p1.pk}/flags/{flag.pk}/")
    assert (last_read(world).object_type, last_read(world).object_id) == ("flag", str(flag.pk))
    client.get(f"/patients/{world.p1.pk}/plan/reviews/{review.pk}/")
    event = last_read(world)
    assert (event.object_type, event.object_id) == ("review", str(review.pk))


def test_the_patients_own_portal_pages_are_recorded_by_part(world):
    client = world.client("patient")
    for url, part in [("/portal/", "summary"), ("/portal/plan/", "plan"),
                      ("/portal/checkups/", "checkups"), ("/portal/goals/", "goals")]:
        assert client.get(url).status_code == 200
        event = last_read(world, "patient")
        assert (event.patient, event.object_type) == (world.p1, part), url


def test_every_url_that_opens_a_record_declares_a_part_with_words():
    names = set(all_url_names())
    opening = {n for n in names if permissions.opens_a_record(permissions.RULES[n])}
    assert opening, "the walk found no patient-record URLs"
    assert opening - set(permissions.RECORD_PARTS) == set(), "patient URLs without a part"
    assert set(permissions.RECORD_PARTS) - names == set(), "parts for URLs that do not exist"
    assert set(permissions.LISTS) <= names, "lists for URLs that do not exist"
    values = set(permissions.RECORD_PARTS.values())
    values |= {listing.part for listing in permissions.LISTS.values()}
    values |= {listing.searched for listing in permissions.LISTS.values()}
    assert values - set(parts.WORDS) == set(), "parts without words"


def test_every_model_whose_changes_are_recorded_has_words():
    """Changes are recorded under the model's name: each of those names has words too."""
    from django.apps import apps

    recorded = {"patient", "episode", "careteammember", "sortsession", "prioritysort", "goal",
                "careplan", "planversion", "planaction", "planproposal", "review", "response",
                "checkupschedule", "flag", "contact", "rulesetting", "user"}
    models = {m._meta.model_name for m in apps.get_models()}
    assert recorded <= models
    assert recorded - set(parts.WORDS) == set()


def test_a_patient_url_without_a_declared_part_is_refused(world, monkeypatch, caplog):
    """Default deny holds for the audit too: a record page that cannot say what it shows is not
    shown."""
    declared = dict(permissions.RECORD_PARTS)
    del declared["patients:plan"]
    monkeypatch.setattr(permissions, "RECORD_PARTS", declared)
    with caplog.at_level(logging.ERROR):
        response = world.client("practitioner").get(f"/patients/{world.p1.pk}/plan/")
    assert response.status_code == 403
    assert "No record part declared for URL 'patients:plan'" in caplog.text
    assert not AuditEvent.objects.filter(action="read", patient=world.p1)


def test_the_auditor_page_says_what_was_seen_in_words_and_filters_by_it(world):
    client = world.client("practitioner")
    client.get(f"/patients/{world.p1.pk}/plan/")
    client.get(f"/patients/{world.p1.pk}/checkups/")
    auditor = world.client("auditor")
    page = auditor.get("/audit/?patient=T-001").content.decode()
    assert "care plan" in page and "check-ups" in page
    only_plan = auditor.get("/audit/?patient=T-001&what=plan")
    assert [e.object_type for e in only_plan.context["page"]] == ["plan"]
    assert "check-ups" not in only_plan.content.decode().split("<tbody>")[1]


def export_rows(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_has_what_was_seen_in_words_and_is_itself_recorded(world):
    world.client("practitioner").get(f"/patients/{world.p1.pk}/goals/?purpose=review")
    rows = export_rows(world.client("auditor").get("/audit/export.csv?patient=T-001"))
    goals = next(r for r in rows if r["object type"] == "goals")
    assert goals["what"] == "goals" and goals["action"] == "Viewed"
    assert goals["patient service ID"] == "T-001" and goals["purpose"] == "review"
    assert goals["path"] == f"/patients/{world.p1.pk}/goals/?purpose=review"
    assert all(world.p1.family_name not in value for r in rows for value in r.values())
    export = AuditEvent.objects.filter(action="export").get()
    assert (export.actor, export.object_type, export.patient) == (
        world.users["auditor"], "audit-trail", None)


def test_the_export_never_hands_a_spreadsheet_a_formula(world):
    world.client("practitioner").get(f"/patients/{world.p1.pk}/?purpose==HYPERLINK(1)")
    rows = export_rows(world.client("auditor").get("/audit/export.csv?user=practitioner"))
    assert rows[0]["purpose"] == "'=HYPERLINK(1)"


def test_the_chain_still_verifies_with_parts_lists_and_refusals(world, capsys):
    client = world.client("practitioner")
    client.get(f"/patients/{world.p1.pk}/plan/")
    client.get("/patients/")
    client.get("/api/v1/patients")
    client.get(f"/patients/{world.p3.pk}/")  # refused
    world.client("auditor").get("/audit/export.csv")
    assert trail.verify() == []
    call_command("audit", "verify")
    assert "OK" in capsys.readouterr().out


def test_an_export_with_a_filter_it_cannot_read_sends_the_filter_back_not_the_whole_trail(world):
    client = world.client("auditor")
    client.get(f"/patients/{world.p1.pk}/")  # something to export
    reply = client.get("/audit/export.csv?since=2026-13-45")
    assert reply.status_code == 302 and reply["Location"].startswith("/audit/?since=")
    assert not AuditEvent.objects.filter(action="export").exists()
    page = client.get(reply["Location"])
    assert "Download these events" not in page.content.decode()


def test_the_export_carries_each_changes_detail(world):
    from tandem.audit import trail

    trail.record(organisation=world.org, action="update", detail="changed: name A→B")
    rows = export_rows(world.client("auditor").get("/audit/export.csv"))
    assert [row["detail"] for row in rows if row["action"] == "Changed"] == ["changed: name A→B"]
