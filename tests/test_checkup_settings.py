"""The service admin's check-up settings: uploading an instrument (every problem named by path,
nothing half-imported), the schedule, crisis contacts, life-domain cards, urgent answers."""

import copy
import json

from django.core.files.uploadedfile import SimpleUploadedFile

from tandem.assessment import registry
from tandem.assessment.models import CheckupSettings, LifeDomain, UploadedInstrument, UrgentAnswer

GOOD = {
    "code": "sdq-mini", "title": "Sleep difficulties (demo)", "version": "1",
    "licence": {"terms": "Written by the service; free to use.", "source": "Riverside"},
    "citation": "Riverside Recovery Service, 2026.",
    "items": [{"id": f"s{i}", "text": f"Sleep question {i}", "type": "choice",
               "options": [{"value": 0, "label": "Never"}, {"value": 1, "label": "Sometimes"},
                           {"value": 2, "label": "Often"}]} for i in (1, 2, 3)],
    "scales": [{"code": "total", "title": "Total", "items": ["s1", "s2", "s3"], "range": [0, 6],
                "higher_is": "worse", "primary": True}],
}


def upload(client, definition=None, text=None):
    data = {}
    if definition is not None:
        data["file"] = SimpleUploadedFile("def.json", json.dumps(definition).encode(),
                                          content_type="application/json")
    if text is not None:
        data["text"] = text
    return client.post("/manage/checkups/questionnaires/", data)


def test_invalid_upload_lists_every_problem_by_path_and_imports_nothing(world):
    bad = copy.deepcopy(GOOD)
    del bad["items"][2]["options"][1]["value"]
    bad["items"][1]["type"] = "slider"
    bad["scales"][0]["items"].append("s9")
    bad["scales"][0]["bands"] = [{"min": 0, "max": 3, "label": "low", "level": 0}]
    page = upload(world.client("service_admin"), bad).content.decode()
    assert "items[2].options[1].value: missing" in page
    assert "items[1].type: Input should be &#x27;choice&#x27;" in page
    assert "scales[0].items[3]: no item has the id &#x27;s9&#x27;" in page
    assert "scales[0].bands_citation: missing (every band needs its source)" in page
    assert "4 problems in the definition" in page
    assert UploadedInstrument.objects.count() == 0


def test_not_json_and_shipped_codes_are_refused(world):
    client = world.client("service_admin")
    assert "Not valid JSON: Expecting value at line 1, column 1." in upload(
        client, text="nope").content.decode()
    shipped = dict(GOOD, code="phq9")
    assert "code: &#x27;phq9&#x27; is an instrument shipped with Tandem" in upload(
        client, shipped).content.decode()
    assert "Choose a file or paste a definition." in upload(client).content.decode()
    assert UploadedInstrument.objects.count() == 0


def test_valid_upload_is_available_and_versions_are_kept(world):
    client = world.client("service_admin")
    assert upload(client, GOOD).status_code == 302
    assert registry.get(world.org, "sdq-mini").title == "Sleep difficulties (demo)"
    again = upload(client, GOOD).content.decode()
    assert "version: &#x27;1&#x27; of &#x27;sdq-mini&#x27; is already uploaded" in again
    assert upload(client, dict(GOOD, version="2", title="Sleep v2")).status_code == 302
    assert registry.get(world.org, "sdq-mini").version == "2"
    assert registry.get(world.other_org, "sdq-mini") is None
    # Practitioners can use it at once, through the API too.
    from tests.test_api import bearer

    api, _ = bearer(world.users["practitioner"])
    reply = api.post(f"/api/v1/patients/{world.p1.pk}/responses",
                     {"instrument": "sdq-mini", "answers": {"s1": 2, "s2": 1, "s3": 0}},
                     content_type="application/json")
    assert reply.status_code == 201 and reply.json()["headline"] == 3


def test_schedule_settings_validate_and_save(world):
    client = world.client("service_admin")
    page = client.post("/manage/checkups/", {"interval_weeks": "0", "post_exit_every_months": "3",
                                              "post_exit_for_months": "12",
                                              "instruments": ["phq9"]}).content.decode()
    assert "Ensure this value is greater than or equal to 1." in page
    assert client.post("/manage/checkups/", {
        "interval_weeks": "6", "post_exit_every_months": "2", "post_exit_for_months": "6",
        "instruments": ["phq9", "audit-c"], "version": "0"}).status_code == 302
    saved = CheckupSettings.objects.get(organisation=world.org)
    assert (saved.interval_weeks, saved.instrument_codes()) == (6, ["phq9", "audit-c"])
    from django_tasks_db.models import DBTaskResult

    # Every patient's next check-up is recomputed by the worker.
    (task,) = DBTaskResult.objects.filter(task_path__endswith="refresh_schedules")
    assert task.status == "READY" and task.args_kwargs["args"] == [world.org.pk]
    portal = world.client("patient").get("/portal/checkups/").content.decode()
    assert "AUDIT-C" in portal and "GAD-7" not in portal


def rows(prefix, forms):
    data = {f"{prefix}-TOTAL_FORMS": str(len(forms)), f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for n, form in enumerate(forms):
        data |= {f"{prefix}-{n}-{k}": v for k, v in form.items()}
    return data


def test_life_domain_cards_change_the_rating_questionnaire(world):
    client = world.client("service_admin")
    cards = [{"code": "drug_use", "label": "Drug use", "position": "1", "active": "on"},
             {"code": "faith", "label": "Faith and meaning", "position": "2", "active": "on"},
             {"code": "pets", "label": "Pets", "position": "3", "active": "on"}]
    assert client.post("/manage/checkups/life-domains/", rows("rows", cards)).status_code == 302
    ins = registry.life_domains(world.org)
    assert [i.id for i in ins.items] == ["drug_use", "faith", "pets"]
    assert ins.item("faith").text == "How are things with your faith and meaning?"
    assert ins.version != registry.shipped()["life-domains"].version
    clash = [cards[0], dict(cards[1], code="drug_use")]
    page = client.post("/manage/checkups/life-domains/", rows("rows", clash)).content.decode()
    assert "Each card needs its own code." in page
    assert LifeDomain.objects.filter(organisation=world.org).count() == 3


def test_urgent_answers_must_name_a_real_question(world):
    client = world.client("service_admin")
    bad = [{"instrument_code": "top", "item_id": "nope", "at_least": "1", "message": "x"},
           {"instrument_code": "zzz", "item_id": "1", "at_least": "1", "message": "x"}]
    page = client.post("/manage/checkups/urgent-answers/", rows("rows", bad)).content.decode()
    assert "Outcomes profile (TOP-style) has no question with this id." in page
    assert "No instrument has this code." in page
    good = [{"instrument_code": "top", "item_id": "housing_acute", "at_least": "1",
             "message": "acute housing problem"}]
    assert client.post("/manage/checkups/urgent-answers/",
                       rows("rows", good)).status_code == 302
    assert UrgentAnswer.objects.get().item_id == "housing_acute"
