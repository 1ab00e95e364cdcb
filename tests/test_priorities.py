"""Priority sorts: each side sorts on their own, neither sees the other's until both have
submitted, then the comparison; bad sorts get a message per card; earlier sorts are kept."""

from tandem.assessment.registry import default_cards
from tandem.audit.models import AuditEvent
from tandem.planning.models import PrioritySort, SortSession

CODES = [code for code, _label, _q in default_cards()]


def sort_data(now=(), not_for_me=(), action="submit", helps=(), notes=None):
    data = {"action": action}
    for code in CODES:
        data[f"pile_{code}"] = "now" if code in now else "not" if code in not_for_me else "later"
    for rank, code in enumerate(now, start=1):
        data[f"rank_{code}"] = str(rank)
    for code in helps:
        data[f"help_{code}"] = "on"
    for code, note in (notes or {}).items():
        data[f"note_{code}"] = note
    return data


def start(world):
    reply = world.client("practitioner").post(f"/patients/{world.p1.pk}/priorities/new/")
    assert reply.status_code == 302
    return SortSession.objects.order_by("started_at").last()


def test_neither_side_sees_the_other_until_both_submit(world):
    session = start(world)
    staff, patient = world.client("practitioner"), world.client("patient")
    base = f"/patients/{world.p1.pk}/priorities/{session.pk}/"
    assert staff.post(base + "practitioner/", sort_data(
        now=["drug_use", "housing", "mental_health"], not_for_me=["eating"])).status_code == 302
    page = staff.get(base).content.decode()
    assert "Neither sort is shown until both are submitted." in page
    assert "How the two sorts compare" not in page
    portal = patient.get(f"/portal/priorities/{session.pk}/").content.decode()
    assert "What matters to you now?" in portal and "Housing" in portal
    assert 'value="now" id="id_pile_housing_0" checked' not in portal  # not the practitioner's
    reply = patient.post(f"/portal/priorities/{session.pk}/", sort_data(
        now=["housing", "drug_use"], not_for_me=["offending", "family"], helps=["housing"],
        notes={"housing": "Sofa-surfing at my sister's"}))
    assert reply.status_code == 302
    page = staff.get(base).content.decode()
    assert "How the two sorts compare" in page
    assert "Sofa-surfing at my sister" in page and "wants help" in page
    compared = patient.get(f"/portal/priorities/{session.pk}/").content.decode()
    assert "How the two sorts compare" in compared and "Your practitioner" in compared


def test_the_comparison_shows_disagreements_largest_first_and_the_agreement_figure(world):
    session = start(world)
    base = f"/patients/{world.p1.pk}/priorities/{session.pk}/"
    staff = world.client("practitioner")
    staff.post(base + "practitioner/", sort_data(now=["drug_use", "housing"],
                                                 not_for_me=["eating"]))
    staff.post(base + "patient/", sort_data(now=["eating", "drug_use"],
                                            not_for_me=["housing"]))
    context = staff.get(base).context
    assert [d["label"] for d in context["disagreements"]] == ["Eating", "Housing"]
    assert context["only_patient_now"] == ["Eating"]
    assert context["only_practitioner_now"] == ["Housing"]
    assert context["patient_now"] == ["Eating", "Drug use"]
    assert -1 <= context["result"].kappa < 1
    patient_sort = PrioritySort.objects.get(voice="patient")
    assert patient_sort.handed_over and patient_sort.entered_by == world.users["practitioner"]


def test_bad_sorts_get_a_message_per_card_and_keep_what_was_chosen(world):
    session = start(world)
    data = sort_data(now=["drug_use", "housing"])
    data["rank_housing"] = "1"  # the same rank twice
    del data["pile_eating"]  # no pile
    data["note_family"] = "x" * 201
    page = world.client("patient").post(f"/portal/priorities/{session.pk}/", data)
    text = page.content.decode()
    assert page.status_code == 200
    assert "Rank 1 is also given to drug use; give each card its own rank." in text
    assert "Ensure this value has at most 200 characters" in text
    assert not PrioritySort.objects.exists()
    data["note_family"] = "ok"
    text = world.client("patient").post(f"/portal/priorities/{session.pk}/", data).content
    assert "Choose a pile for eating." in text.decode()
    assert 'value="now" id="id_pile_housing_0" checked' in text.decode()


def test_save_and_finish_later_then_submitted_sorts_cannot_change(world):
    session = start(world)
    client = world.client("patient")
    url = f"/portal/priorities/{session.pk}/"
    client.post(url, {"action": "save", "pile_housing": "now", "rank_housing": "1"})
    saved = PrioritySort.objects.get()
    assert not saved.submitted
    assert saved.piles()["now"] == ["housing"]
    client.post(url, sort_data(now=["housing"]))
    saved.refresh_from_db()
    assert saved.submitted
    after = client.post(url, sort_data(now=["family"]))
    assert after.status_code == 200 and "Thank you: your sort is sent" in after.content.decode()
    saved.refresh_from_db()
    assert saved.piles()["now"] == ["housing"]
    assert AuditEvent.objects.filter(object_type="prioritysort").count() == 2


def test_discussion_is_recorded_after_both_sorts(world):
    session = start(world)
    staff = world.client("practitioner")
    base = f"/patients/{world.p1.pk}/priorities/{session.pk}/"
    staff.post(base + "discussion/", {"discussion": "too early"})
    session.refresh_from_db()
    assert session.discussion == ""
    staff.post(base + "practitioner/", sort_data(now=["housing"]))
    staff.post(base + "patient/", sort_data(now=["housing"]))
    staff.post(base + "discussion/", {"discussion": "Housing first: realistic with support."})
    session.refresh_from_db()
    assert session.discussion.startswith("Housing first")
    listing = staff.get(f"/patients/{world.p1.pk}/priorities/").content.decode()
    assert "Submitted" in listing


def test_earlier_sorts_are_kept(world):
    first = start(world)
    second = start(world)
    assert first.pk != second.pk
    page = world.client("patient").get("/portal/priorities/").content.decode()
    assert page.count("Sort the cards") == 2
