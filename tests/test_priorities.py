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
    assert "How the two sorts compare" in compared and "Your keyworker" in compared


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


def api_cards(now=(), not_for_me=()):
    cards = []
    for code in CODES:
        pile = "now" if code in now else "not" if code in not_for_me else "later"
        cards.append({"code": code, "pile": pile,
                      "rank": list(now).index(code) + 1 if code in now else None})
    return cards


def test_api_sorts_hide_the_patients_side_until_both_submit(world):
    from tests.test_api import bearer

    client, _ = bearer(world.users["practitioner"])
    base = f"/api/v1/patients/{world.p1.pk}/sorts"
    session = client.post(base).json()
    url = f"{base}/{session['id']}"
    reply = client.put(f"{url}/patient", {"cards": api_cards(now=["housing"]), "submit": True},
                       content_type="application/json")  # the patient, on a staff screen
    assert reply.status_code == 200
    listed = client.get(base).json()[0]
    assert [s["cards"] for s in listed["sorts"] if s["voice"] == "patient"] == [None]
    assert client.get(f"{url}/comparison").status_code == 409
    client.put(f"{url}/practitioner", {"cards": api_cards(now=["drug_use"],
                                                          not_for_me=["housing"]),
                                       "submit": True}, content_type="application/json")
    comparison = client.get(f"{url}/comparison").json()
    assert comparison["disagreements"][0] == {"card": "housing", "patient": "now",
                                              "practitioner": "not", "distance": 2}
    assert comparison["only_patient_now"] == ["housing"]
    again = client.put(f"{url}/practitioner", {"cards": api_cards(), "submit": True},
                       content_type="application/json")
    assert again.status_code == 409


def test_api_names_each_bad_card(world):
    from tests.test_api import bearer

    client, _ = bearer(world.users["practitioner"])
    base = f"/api/v1/patients/{world.p1.pk}/sorts"
    session = client.post(base).json()
    cards = api_cards(now=["housing", "family"])
    cards[0] = {"code": "nope", "pile": "now"}
    next(c for c in cards if c["code"] == "family")["rank"] = 1
    reply = client.put(f"{base}/{session['id']}/practitioner", {"cards": cards, "submit": True},
                       content_type="application/json")
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    assert {"loc": ["body", "cards", 0, "code"], "msg": "No card has this code."} in detail
    assert {"loc": ["body", "cards", "drug_use", "pile"],
            "msg": "Choose a pile for drug use."} in detail
    assert any(e["loc"][-2:] == ["family", "rank"] for e in detail)


def test_staff_never_see_or_replace_a_sort_the_patient_started_in_the_portal(world):
    session = start(world)
    world.client("patient").post(f"/portal/priorities/{session.pk}/",
                                 {"action": "save", "pile_housing": "now", "rank_housing": "1"})
    staff = world.client("practitioner")
    url = f"/patients/{world.p1.pk}/priorities/{session.pk}/patient/"
    reply = staff.get(url)
    assert reply.status_code == 302
    page = staff.get(reply["Location"]).content.decode()
    assert "has started sorting in the portal" in page
    assert staff.post(url, sort_data(now=["family"])).status_code == 302
    assert PrioritySort.objects.get().piles()["now"] == ["housing"]
    from tests.test_api import bearer

    api, _ = bearer(world.users["practitioner"])
    blocked = api.put(f"/api/v1/patients/{world.p1.pk}/sorts/{session.pk}/patient",
                      {"cards": api_cards(now=["family"])}, content_type="application/json")
    assert blocked.status_code == 409
