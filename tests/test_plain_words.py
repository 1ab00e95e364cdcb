"""Pages a patient sees use everyday words: walking every portal page reachable from the home
page of a demo patient with a full history finds no research notes, no statistics jargon and
no FHIR codes; the interviewer's instructions are for staff only; corrected item wordings."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

from tandem.assessment import checkups, registry

PASSWORD = "plain-words-2026"
# Words that belong in docs/ or on staff pages, never on a patient's page.
NOT_FOR_PATIENTS = re.compile(
    r"kappa|spearman|\bRCI\b|reliable change index|FHIR|entered-in-error|in-progress|"
    r"post-exit-monitoring|back-calculated|not confirmed|Tandem issue|Read questions as "
    r"written|Code answers|interviewer", re.IGNORECASE)


@pytest.fixture
def patient_client(db):
    call_command("demo", patients=40, password=PASSWORD)
    client = Client()
    assert client.post("/accounts/login/", {"username": "patient1",
                                            "password": PASSWORD}).status_code == 302
    return client


def walk(client, starts=("/portal/",), limit=120):
    """Every portal page reachable by links (GET only) from `starts`, with its text."""
    seen, todo, pages = set(), list(starts), {}
    while todo and len(pages) < limit:
        url = todo.pop(0)
        if url in seen:
            continue
        seen.add(url)
        reply = client.get(url)
        if reply.status_code != 200 or "text/html" not in reply.get("Content-Type", ""):
            continue
        text = reply.content.decode()
        pages[url] = text
        for link in re.findall(r'href="(/portal/[^"#?]*)"', text):
            if link not in seen and not link.endswith(".pdf"):
                todo.append(link)
    return pages


def test_no_research_notes_statistics_or_codes_on_any_patient_page(patient_client):
    from django.utils import timezone

    from tandem.assessment.models import Checkup, CheckupSettings
    from tandem.patients.models import Patient

    # Every questionnaire's first question: the service's check-up is made of all seven, and
    # the patient's check-up (a POST begins it) holds them all, as they are all due.
    codes = ["phq9", "gad7", "audit", "audit-c", "k10", "top", "life-domains"]
    patient = Patient.objects.get(portal_user__username="patient1")
    CheckupSettings.objects.update_or_create(organisation=patient.organisation,
                                             defaults={"instruments": codes})
    begun = patient_client.post("/portal/checkup/begin/")["Location"]
    checkup = Checkup.objects.get(patient=patient, completed_at__isnull=True)
    flow = checkups.flow(checkup)
    assert sorted(part.code for part in flow.parts) == sorted(codes)
    base = f"/portal/checkup/{checkup.pk}/"
    starts = ["/portal/", begun, f"{base}answers/", f"{base}help/2/"]
    starts += [f"{base}{part.first}/" for part in flow.parts]
    # And the thank-you page of a check-up holding each kind the patient has completed.
    done = {r.instrument_code: r for r in patient.responses.filter(status="completed")
            .order_by("completed_at")}
    assert len(done) >= 4
    sent = Checkup.objects.create(organisation=patient.organisation, patient=patient,
                                  instrument_codes=list(done), completed_at=timezone.now())
    patient.responses.filter(pk__in=[r.pk for r in done.values()]).update(checkup=sent)
    starts.append(f"/portal/checkup/{sent.pk}/done/")
    starts.append("/portal/medication/")  # linked from the menu only with a plan
    pages = walk(patient_client, starts)
    assert "/portal/progress/" in pages and "/portal/plan/" in pages
    questions = [u for u in pages if re.search(r"/checkup/[0-9a-f-]+/\d+/$", u)]
    # The first question of each, and (through "Check your answers") every other question.
    assert {f"{base}{part.first}/" for part in flow.parts} <= set(questions)
    assert len(questions) == flow.total, sorted(pages)
    assert f"{base}answers/" in pages and f"{base}help/2/" in pages
    assert f"/portal/checkup/{sent.pk}/done/" in pages
    for url, text in pages.items():
        body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", text, flags=re.S)
        visible = re.sub(r"<[^>]+>", " ", body)
        found = NOT_FOR_PATIENTS.search(visible)
        context = visible[max(0, found.start() - 80):found.end() + 80] if found else ""
        assert found is None, f"{url}: “{found.group(0)}” in {context!r}"


def test_the_audit_interviewer_instructions_are_for_staff_only(world):
    from tests.test_checkups import start

    client = world.client("patient")
    page = client.get(start(client, "audit")).content.decode()
    assert "Read questions as written" not in page and "your drinking over the past year" in page
    staff = world.client("practitioner")
    made = staff.post(f"/patients/{world.p1.pk}/checkups/new/",
                      {"instrument": "audit", "mode": "with-practitioner"})
    entry = staff.get(made["Location"]).content.decode()
    assert "For the interviewer:" in entry and "Read questions as written" in entry
    assert "skip" in entry.lower()  # the WHO skip rule, as a note beside question 1


def test_corrected_item_wordings():
    gad7, k10 = registry.shipped()["gad7"], registry.shipped()["k10"]
    assert gad7.item("7").text == "Feeling afraid, as if something awful might happen"
    assert k10.item("6").text == ("During the past 30 days, about how often did you feel so "
                                  "restless that you could not sit still?")
    assert all(i.text.startswith("During the past 30 days") for i in k10.items)


def test_the_priority_comparison_in_plain_words_for_the_patient(world):
    from tests.test_priorities import sort_data, start

    session = start(world)
    base = f"/patients/{world.p1.pk}/priorities/{session.pk}/"
    staff = world.client("practitioner")
    staff.post(base + "practitioner/", sort_data(now=["housing", "drug_use"],
                                                 not_for_me=["eating"]))
    world.client("patient").post(f"/portal/priorities/{session.pk}/", sort_data(
        now=["housing", "money"], not_for_me=["offending"]))
    page = world.client("patient").get(f"/portal/priorities/{session.pk}/").content.decode()
    assert re.search(r"You and your keyworker put <strong>\d+ of the 13 areas</strong> in the "
                     r"same pile; you both put <strong>housing</strong> first", page), page
    assert "kappa" not in page.lower() and "spearman" not in page.lower()
    staff_page = staff.get(base).content.decode()
    assert "weighted kappa" in staff_page and "same pile" in staff_page
