"""Refused access to a patient's record is on the audit trail of the person refused: in their
own organisation's chain, with the path, and never naming another organisation's patient."""

import re
import uuid

import pytest

from tandem.audit import trail
from tandem.audit.models import AuditEvent


def without_tokens(response):
    return re.sub(rb'value="[^"]+"', b"", response.content)


def refusals(world, user):
    return list(AuditEvent.objects.filter(actor=world.users[user], action="refused")
                .order_by("seq"))


@pytest.mark.parametrize("url", ["/patients/{p}/", "/patients/{p}/plan/",
                                 "/api/v1/patients/{p}", "/api/v1/patients/{p}/responses"])
def test_another_teams_patient(world, url):
    path = url.format(p=world.p1.pk)
    response = world.client("practitioner_b").get(path)
    assert response.status_code == 404
    (event,) = refusals(world, "practitioner_b")
    assert event.organisation == world.org
    assert event.patient == world.p1  # of their own organisation: the auditor may know
    assert event.path == path and event.role == "practitioner"
    assert event.object_type in {"summary", "plan", "details", "checkups"}
    assert trail.verify(world.org) == []


@pytest.mark.parametrize("url", ["/patients/{p}/", "/patients/{p}/checkups/",
                                 "/api/v1/patients/{p}", "/api/v1/patients/{p}/flags"])
def test_another_organisations_patient_is_refused_like_one_that_does_not_exist(world, url):
    client = world.client("other_org")
    real = client.get(url.format(p=world.p1.pk))
    made_up = client.get(url.format(p=uuid.uuid4()))
    assert real.status_code == made_up.status_code == 404
    assert without_tokens(real) == without_tokens(made_up)
    first, second = refusals(world, "other_org")
    # In the actor's own chain, with the path, and with no patient, exactly as for a made-up id.
    assert first.organisation == second.organisation == world.other_org
    assert first.patient is None and second.patient is None
    assert first.path == url.format(p=world.p1.pk)
    assert first.object_type == second.object_type
    # Nothing reaches the patient's organisation, or the patient.
    assert not AuditEvent.objects.filter(organisation=world.org, actor=world.users["other_org"])
    assert not AuditEvent.objects.filter(patient=world.p1)
    assert trail.verify(world.other_org) == []


def test_the_other_organisations_auditor_sees_no_patient_only_the_path(world):
    world.client("other_org").get(f"/patients/{world.p1.pk}/plan/")
    from tests.conftest import make_user

    auditor = make_user(world.other_org, "other_auditor", "auditor")
    client = world.client("anonymous")
    client.force_login(auditor)
    page = client.get("/audit/?action=refused").content.decode()
    row = page.split("<tbody>")[1]
    assert "Refused" in row and "care plan" in row and f"/patients/{world.p1.pk}/plan/" in row
    assert "T-001" not in page and world.p1.family_name not in page
    # This organisation's auditor sees nothing of it.
    assert "other_org" not in world.client("auditor").get("/audit/").content.decode()


@pytest.mark.parametrize("url", ["/patients/{p}/", "/patients/{p}/goals/", "/patients/",
                                 "/api/v1/patients/{p}/plan"])
def test_a_portal_user_trying_a_staff_url(world, url):
    path = url.format(p=world.p2.pk)
    response = world.client("patient").get(path)
    assert response.status_code == 403
    (event,) = refusals(world, "patient")
    assert event.organisation == world.org and event.path == path and event.role == "patient"
    assert event.patient == (None if url == "/patients/" else world.p2)


def test_a_changing_request_refused_by_role_is_recorded(world):
    """A prescriber on the care team may read but not change: the refused change is recorded."""
    response = world.client("prescriber").post(f"/patients/{world.p1.pk}/goals/new/", {})
    assert response.status_code == 403
    (event,) = refusals(world, "prescriber")
    assert (event.patient, event.object_type) == (world.p1, "goals")


def test_staff_at_the_portal_and_the_auditor_at_a_record_are_recorded(world):
    assert world.client("practitioner").get("/portal/plan/").status_code == 403
    (event,) = refusals(world, "practitioner")
    assert (event.object_type, event.patient) == ("plan", None)
    assert world.client("auditor").get(f"/patients/{world.p1.pk}/").status_code == 403
    (event,) = refusals(world, "auditor")
    assert event.patient == world.p1 and event.role == "auditor"


def test_a_refusal_is_not_a_look_at_the_record(world):
    """The patient's 'who has looked at my record' lists people who saw it, not refusals."""
    world.client("practitioner_b").get(f"/patients/{world.p1.pk}/plan/")
    page = world.client("patient").get("/portal/").content.decode()
    assert "Practitioner_B" not in page


def test_a_signed_out_visitor_writes_nothing(world):
    before = AuditEvent.objects.count()
    world.client("anonymous").get(f"/patients/{world.p1.pk}/")
    world.client("anonymous").get(f"/api/v1/patients/{world.p1.pk}")
    assert AuditEvent.objects.count() == before
