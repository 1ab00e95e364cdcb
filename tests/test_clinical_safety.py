"""Clinical safety and trust: each defect the clinical tester found has a test here that
failed before its fix, and each new flag rule fires on its evidence and not otherwise.
docs/clinical-safety.md names these tests against the hazards they control."""

import datetime

import pytest
from django.utils import timezone

from tandem.assessment.models import Checkup, CheckupSettings, Response
from tandem.core.flags import RULES
from tandem.monitoring import evaluate
from tandem.monitoring.models import Flag, RuleSetting
from tandem.patients.models import Episode
from tests.test_checkup_settings import upload
from tests.test_checkups import PHQ9_LOW, answer, complete, enter, start

TODAY = timezone.localdate()
SCORE = "/api/v1/instruments/phq9/score"


def flags(patient, rule):
    return list(Flag.objects.filter(patient=patient, rule=rule).order_by("raised_at"))


def resolve(world, flag, text="Phoned the same day; safety plan reviewed."):
    reply = world.client("practitioner").post(f"/patients/{flag.patient_id}/flags/{flag.pk}/",
                                              {"resolve-action_taken": text})
    assert reply.status_code == 302


def finish(client, base, first_eight="0"):
    """Answer the PHQ-9's first eight questions and send the check-up (`base`: its steps)."""
    for n in range(1, 9):
        answer(client, f"{base}{n}/", first_eight)
    draft = Response.objects.get(status="in-progress")
    return client.post(f"{base}answers/"), draft


# --- 1. a safety answer is never missed -------------------------------------------------------


def test_a_worse_safety_answer_after_the_flag_was_resolved_raises_a_new_urgent_flag(world):
    client = world.client("patient")
    base = start(client)[:-2]
    assert "/help/" in answer(client, f"{base}9/", "1")["Location"]  # "Several days"
    (first,) = flags(world.p1, "safety-answer")
    assert first.severity == "urgent" and "“Several days”" in first.evidence
    resolve(world, first)
    # The same answer again is what the resolved flag was about: nothing new.
    answer(client, f"{base}9/", "1")
    assert len(flags(world.p1, "safety-answer")) == 1
    # A worse answer raises a new urgent flag in the same request, with the crisis page.
    assert "/help/" in answer(client, f"{base}9/", "3")["Location"]  # "Nearly every day"
    old, new = flags(world.p1, "safety-answer")
    assert (old.pk, old.is_open) == (first.pk, False) and "“Several days”" in old.evidence
    assert new.is_open and new.severity == "urgent" and "“Nearly every day”" in new.evidence
    done, draft = finish(client, base)
    assert done["Location"].endswith("/done/")
    draft.refresh_from_db()
    assert draft.status == "completed" and len(flags(world.p1, "safety-answer")) == 2
    evaluate.evaluate_patient(world.p1)  # the sweep agrees: nothing more, nothing reopened
    assert [f.is_open for f in flags(world.p1, "safety-answer")] == [False, True]


def test_an_open_safety_flag_follows_the_latest_answer_and_is_never_downgraded(world):
    client = world.client("patient")
    base = start(client)[:-2]
    answer(client, f"{base}9/", "1")
    answer(client, f"{base}9/", "3")
    (flag,) = flags(world.p1, "safety-answer")
    assert "“Nearly every day”" in flag.evidence and flag.answer_value == 3 and flag.is_open
    answer(client, f"{base}9/", "0")
    (flag,) = flags(world.p1, "safety-answer")
    assert flag.is_open and flag.severity == "urgent"
    assert "answered “Nearly every day”, later changed to “Not at all”" in flag.evidence


def test_a_safety_answer_through_the_api_draft_is_flagged_and_followed(world):
    client = world.client("practitioner")
    made = client.post(f"/api/v1/patients/{world.p1.pk}/responses",
                       {"instrument": "phq9", "submit": False, "answers": {"9": 1}},
                       content_type="application/json")
    assert made.status_code == 201 and len(made.json()["urgent_flags"]) == 1
    rid = made.json()["id"]
    resolve(world, flags(world.p1, "safety-answer")[0])
    worse = client.patch(f"/api/v1/patients/{world.p1.pk}/responses/{rid}",
                         {"answers": {"9": 2}}, content_type="application/json")
    assert worse.status_code == 200 and len(worse.json()["urgent_flags"]) == 1
    assert [f.is_open for f in flags(world.p1, "safety-answer")] == [False, True]


# --- 2 and 3. JSON that would be read wrongly ------------------------------------------------


def test_a_repeated_json_key_is_refused_naming_it(world):
    client = world.client("practitioner")
    eight = ", ".join(f'"{i}": 0' for i in range(1, 9))
    body = f'{{"instrument": "phq9", "answers": {{{eight}, "9": 3, "9": 0}}}}'
    for path in (SCORE, f"/api/v1/patients/{world.p1.pk}/responses"):
        reply = client.post(path, body, content_type="application/json")
        assert reply.status_code == 422, path
        assert "“9” appears more than once" in reply.json()["detail"][0]["msg"]
    assert not Response.objects.exists() and not Flag.objects.exists()
    # The same for JSON a page takes: an uploaded questionnaire definition.
    page = upload(world.client("service_admin"), text='{"code": "a", "code": "b"}')
    assert "“code” appears more than once" in page.content.decode()


@pytest.mark.parametrize("raw", ["1" + "0" * 400, "-1" + "0" * 400, "1e400", "2.5", '"3.5"'])
def test_overflowing_and_fractional_answers_are_422s_naming_the_item(world, raw):
    client = world.client("practitioner")
    rest = ", ".join(f'"{i}": 0' for i in range(2, 10))
    body = f'{{"instrument": "phq9", "answers": {{"1": {raw}, {rest}}}}}'
    for path in (SCORE, f"/api/v1/patients/{world.p1.pk}/responses"):
        reply = client.post(path, body, content_type="application/json")
        assert reply.status_code == 422, (path, reply.content[:300])
        assert reply.json()["detail"] == [
            {"loc": ["body", "answers", "1"], "msg": "Choose one of the answers given."}]
    assert not Response.objects.exists()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_constants_are_refused(world, constant):
    reply = world.client("practitioner").post(
        SCORE, f'{{"answers": {{"1": {constant}}}}}', content_type="application/json")
    assert reply.status_code == 422 and constant.lstrip("-") in reply.json()["detail"][0]["msg"]


def test_a_huge_number_in_a_typed_field_is_a_422_naming_it(world):
    reply = world.client("practitioner").post(
        f"/api/v1/patients/{world.p1.pk}/responses",
        '{"instrument": "phq9", "submit": false, "answers": {}, "mode": 1' + "0" * 400 + "}",
        content_type="application/json")
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"][-1] == "mode"


# --- 4. a safety question is never prorated ----------------------------------------------------


def test_score_refuses_an_unanswered_safety_question_and_records_a_declined_one(world):
    client = world.client("practitioner")
    eight = {str(i): 1 for i in range(1, 9)}
    reply = client.post(SCORE, {"answers": eight}, content_type="application/json")
    assert reply.status_code == 422
    (problem,) = reply.json()["detail"]
    assert problem["loc"] == ["body", "answers", "9"] and "safety question" in problem["msg"]
    reply = client.post(SCORE, {"answers": eight | {"9": "declined"}},
                        content_type="application/json")
    assert reply.status_code == 200
    total = reply.json()["scales"][0]
    assert (total["value"], total["band"], total["prorated"]) == (None, None, False)
    assert "safety question" in total["note"]
    assert reply.json()["safety"] == [{"item": "9", "declined": True,
                                       "message": "Safety question not answered: ask in person."}]


def test_a_patient_can_say_they_would_rather_not_answer_a_safety_question(world):
    client = world.client("patient")
    base = start(client)[:-2]
    assert "rather not say" in client.get(f"{base}9/").content.decode()
    reply = answer(client, f"{base}9/", "declined")
    assert reply["Location"] == f"{base}answers/"  # not the crisis page: nothing was said
    (flag,) = flags(world.p1, "safety-unanswered")
    assert flag.severity == "high" and flag.is_open
    assert "safety question not answered" in flag.evidence and "in person" in flag.evidence
    done, draft = finish(client, base, "1")
    draft.refresh_from_db()
    assert draft.answers["9"] == "declined" and draft.status == "completed"
    assert draft.headline is None  # never estimated without the safety question
    page = client.get(done["Location"]).content.decode()
    assert "chose not to answer" in page and "Your score" not in page
    assert flags(world.p1, "safety-answer") == []
    evaluate.evaluate_patient(world.p1)
    assert len(flags(world.p1, "safety-unanswered")) == 1


def test_a_declined_safety_question_in_a_batch_is_flagged_too(world):
    answers = {str(i): 0 for i in range(1, 9)} | {"9": "declined"}
    reply = world.client("practitioner").post("/api/v1/responses", {"responses": [
        {"patient_id": str(world.p1.pk), "instrument": "phq9", "answers": answers}]},
        content_type="application/json")
    assert reply.status_code == 201
    assert [f["severity"] for f in reply.json()["urgent_flags"]] == ["high"]
    assert len(flags(world.p1, "safety-unanswered")) == 1


# --- 5. after a safety answer, only what fits it ---------------------------------------------


def test_after_a_safety_answer_the_result_page_says_only_what_fits_it(world):
    client = world.client("patient")
    base = start(client)[:-2]
    answer(client, f"{base}9/", "1")
    done, _draft = finish(client, base)
    page = client.get(done["Location"]).content.decode()
    assert "Help is available now" in page and "will get in touch" in page
    assert "Your score" not in page and "next meeting" not in page


def test_a_profile_has_no_score_for_the_patient(world):
    checkup = Checkup.objects.create(organisation=world.org, patient=world.p1,
                                     instrument_codes=["top"], completed_at=timezone.now())
    response = complete(world.p1, "top", {"quality_of_life": 12, "psych_health": 10}, 0)
    Response.objects.filter(pk=response.pk).update(checkup=checkup)
    page = world.client("patient").get(f"/portal/checkup/{checkup.pk}/done/")
    assert page.status_code == 200 and "Your score" not in page.content.decode()
    assert "Drink, drugs, health and daily life" in page.content.decode()  # the profile's page


# --- 6. the safety rule's severity cannot be lowered -----------------------------------------


def _rule_form_data():
    data = {}
    for code, spec in RULES.items():
        data[f"{code}-enabled"] = "on"
        for t in spec.thresholds:
            data[f"{code}-t_{t.name}"] = str(t.default)
    return data


def test_the_safety_rules_stay_urgent_and_on(world):
    admin = world.client("service_admin")
    url = "/manage/checkups/early-warning/"
    page = admin.get(url).content.decode()
    select = page.split('name="safety-answer-severity"')[1].split("</select>")[0]
    assert "Urgent" in select and "Low" not in select and "High" not in select
    reply = admin.post(url, _rule_form_data() | {"safety-answer-severity": "low"})
    assert reply.status_code == 200 and "this cannot be changed" in reply.content.decode()
    assert not RuleSetting.objects.exists()
    # A setting written some other way is ignored: the flag is urgent and raised.
    RuleSetting.objects.create(organisation=world.org, rule="safety-answer", severity="low",
                               enabled=False)
    RuleSetting.objects.create(organisation=world.org, rule="safety-unanswered",
                               severity="low", enabled=False)
    enter(world.client("practitioner"), world.p1, "phq9",
          {str(i): "0" for i in range(1, 9)} | {"9": "2"})
    (flag,) = flags(world.p1, "safety-answer")
    assert flag.severity == "urgent"
    complete(world.p1, "phq9", PHQ9_LOW | {"9": 1}, 1)
    complete(world.p1, "phq9", PHQ9_LOW | {"9": "declined"}, 1)
    evaluate.evaluate_patient(world.p1)
    assert {f.severity for f in Flag.objects.filter(rule="safety-answer")} == {"urgent"}
    assert [f.severity for f in flags(world.p1, "safety-unanswered")] == ["high"]


# --- 7. flags whose condition has cleared close themselves -----------------------------------


def test_an_overdue_check_up_flag_closes_when_the_patient_does_the_check_up(world):
    from tandem.assessment.schedules import refresh_schedule

    CheckupSettings.objects.create(organisation=world.org, instruments=["phq9"])
    Episode.objects.filter(patient=world.p1).update(
        start_date=TODAY - datetime.timedelta(days=200))
    refresh_schedule(world.p1)
    evaluate.evaluate_patient(world.p1)  # nothing done since the episode began
    (flag,) = flags(world.p1, "checkup-overdue")
    assert flag.is_open and "overdue" in flag.evidence
    client = world.client("patient")
    base = start(client)[:-2]
    answer(client, f"{base}9/", "0")
    finish(client, base)
    (flag,) = flags(world.p1, "checkup-overdue")
    assert not flag.is_open and flag.resolved_by is None
    assert flag.action_taken.startswith("Closed by Tandem on ")
    assert "no check-up is overdue" in flag.action_taken
    # Still open: no contact by a person (a check-up done alone is not contact).
    assert [f.rule for f in Flag.objects.filter(patient=world.p1, status="active")] == [
        "no-contact"]


def test_a_plan_unsigned_flag_closes_when_the_patient_signs_and_the_sweep_closes_the_rest(world):
    from tandem.planning.models import CarePlan, PlanVersion

    user = world.users["practitioner"]
    plan = CarePlan.objects.create(organisation=world.org, patient=world.p1, status="active",
                                   review_date=TODAY - datetime.timedelta(days=5),
                                   updated_by=user)
    PlanVersion.objects.create(plan=plan, number=1, snapshot={}, created_by=user,
                               created_at=timezone.now() - datetime.timedelta(days=20))
    evaluate.evaluate_patient(world.p1)
    assert flags(world.p1, "plan-unsigned")[0].is_open
    assert flags(world.p1, "review-overdue")[0].is_open
    reply = world.client("patient").post("/portal/plan/sign/")
    assert reply.status_code == 302, reply.content[:300]
    assert not flags(world.p1, "plan-unsigned")[0].is_open  # at once, in that request
    # A review date moved by hand is found by the sweep.
    CarePlan.objects.filter(pk=plan.pk).update(review_date=TODAY + datetime.timedelta(days=30))
    evaluate.sweep()
    (review,) = flags(world.p1, "review-overdue")
    assert not review.is_open and "review date is no longer past" in review.action_taken


def test_clinical_flags_are_left_for_a_person_to_close(world):
    complete(world.p1, "phq9", {str(i): 3 for i in range(1, 9)} | {"9": 0}, 10)  # 24
    evaluate.evaluate_patient(world.p1)
    (severe,) = flags(world.p1, "severe-score")
    complete(world.p1, "phq9", PHQ9_LOW, 0)
    evaluate.sweep()
    severe.refresh_from_db()
    assert severe.is_open  # a severe score is looked at by someone, even if the next is fine


# --- new flags ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code, answers, fires", [
    ("phq9", {str(i): 3 for i in range(1, 7)} | {"7": 2, "8": 0, "9": 0}, True),  # 20
    ("phq9", {str(i): 3 for i in range(1, 7)} | {"7": 1, "8": 0, "9": 0}, False),  # 19
    ("gad7", {str(i): 3 for i in range(1, 6)} | {"6": 0, "7": 0}, True),  # 15
    ("gad7", {str(i): 3 for i in range(1, 5)} | {"5": 2, "6": 0, "7": 0}, False),  # 14
    ("k10", {str(i): 3 for i in range(1, 11)}, True),  # 30
    ("k10", {str(i): 3 for i in range(1, 10)} | {"10": 2}, False),  # 29
    ("audit", {"1": 4, "2": 4, "3": 4, "4": 4, "5": 4, "6": 0, "7": 0, "8": 0, "9": 0,
               "10": 0}, True),  # 20
    ("audit", {"1": 4, "2": 4, "3": 4, "4": 4, "5": 3, "6": 0, "7": 0, "8": 0, "9": 0,
               "10": 0}, False),  # 19
])
def test_a_first_check_up_in_the_most_severe_band_raises_a_high_flag(world, code, answers,
                                                                     fires):
    response = complete(world.p1, code, answers, 0, mode="with-practitioner")
    evaluate.evaluate_patient(world.p1)
    found = flags(world.p1, "severe-score")
    assert bool(found) is fires, response.headline
    if fires:
        assert found[0].severity == "high" and "most severe band" in found[0].evidence
        assert found[0].response_id == response.pk


def top(opioids=(0, 0, 0, 0), inject=(0, 0, 0, 0), **extra):
    answers = {f"opioids_w{n}": d for n, d in enumerate(opioids, start=1)}
    answers |= {f"inject_w{n}": d for n, d in enumerate(inject, start=1)}
    return answers | extra


def test_injecting_for_the_first_time_in_the_episode_raises_a_high_flag(world):
    complete(world.p1, "top", top(opioids=(3, 3, 3, 3)), 40)
    evaluate.evaluate_patient(world.p1)
    assert flags(world.p1, "injecting") == []
    complete(world.p1, "top", top(opioids=(3, 3, 3, 3), inject=(2, 0, 0, 0)), 5)
    evaluate.evaluate_patient(world.p1)
    (flag,) = flags(world.p1, "injecting")
    assert flag.severity == "high" and "first time this episode" in flag.evidence


def test_injecting_at_the_first_check_up_is_known_already_but_sharing_is_always_flagged(world):
    complete(world.p1, "top", top(opioids=(3, 3, 3, 3), inject=(2, 2, 2, 2)), 5)
    evaluate.evaluate_patient(world.p1)
    assert flags(world.p1, "injecting") == []
    complete(world.p1, "top", top(opioids=(3, 3, 3, 3), inject=(1, 0, 0, 0),
                                  inject_shared_equipment=True), 1)
    evaluate.evaluate_patient(world.p1)
    (flag,) = flags(world.p1, "injecting")
    assert "spoon, water or filter that someone else had used" in flag.evidence


def test_the_profile_refuses_injecting_without_any_drug_use_naming_both(world):
    from tandem.assessment import registry

    answers = {item.id: 0 for item in registry.shipped()["top"].items
               if item.type == "integer"}
    answers |= {"inject_w1": 2, "housing_acute": False, "housing_eviction_risk": False}
    reply = world.client("practitioner").post(
        f"/api/v1/patients/{world.p1.pk}/responses", {"instrument": "top", "answers": answers},
        content_type="application/json")
    assert reply.status_code == 422
    (problem,) = reply.json()["detail"]
    assert problem["loc"][-1] == "inject_w1"
    assert "Injecting on 2 days in week 1" in problem["msg"] and "(0 in all" in problem["msg"]
    shared = answers | {"inject_w1": 0, "inject_shared_needle": True}
    reply = world.client("practitioner").post(
        f"/api/v1/patients/{world.p1.pk}/responses", {"instrument": "top", "answers": shared},
        content_type="application/json")
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"][-1] == (
        "inject_shared_needle")
    assert not Response.objects.exists()


def test_a_lapse_to_opioids_after_one_week_without_is_an_overdose_risk_flag(world):
    complete(world.p1, "top", top(opioids=(4, 4, 4, 4)), 40)
    complete(world.p1, "top", top(opioids=(2, 0, 0, 0)), 5)  # 3 weeks without, then use
    evaluate.evaluate_patient(world.p1)
    (flag,) = flags(world.p1, "return-to-use")
    assert "overdose" in flag.evidence.lower() and "naloxone" in flag.suggested_action
    # The same pattern with crack is not yet a return (4 weeks without by default).
    other = world.p3
    complete(other, "top", {f"crack_w{n}": 4 for n in range(1, 5)}, 40)
    complete(other, "top", {"crack_w1": 2, "crack_w2": 0, "crack_w3": 0, "crack_w4": 0}, 5)
    evaluate.evaluate_patient(other)
    assert flags(other, "return-to-use") == []


def test_no_contact_counts_people_only(world):
    Episode.objects.filter(patient=world.p1).update(
        start_date=TODAY - datetime.timedelta(days=60))
    complete(world.p1, "phq9", PHQ9_LOW, 3, mode="self")
    complete(world.p1, "gad7", {str(i): 0 for i in range(1, 8)}, 3, mode="integration")
    evaluate.evaluate_patient(world.p1)
    (flag,) = flags(world.p1, "no-contact")
    assert "since their episode started" in flag.evidence
    complete(world.p1, "phq9", PHQ9_LOW, 1, mode="with-practitioner")
    evaluate.evaluate_patient(world.p1)
    assert not flags(world.p1, "no-contact")[0].is_open  # contact by a person: it closes


def test_k10_and_audit_say_they_have_no_reliable_change_figure(world):
    complete(world.p1, "k10", {str(i): 2 for i in range(1, 11)}, 30)
    complete(world.p1, "k10", {str(i): 3 for i in range(1, 11)}, 0)
    for role in ("practitioner", "patient"):
        url = (f"/patients/{world.p1.pk}/checkups/" if role == "practitioner"
               else "/portal/progress/")
        page = world.client(role).get(url).content.decode()
        assert "No reliable-change figure for this questionnaire" in page, role


# --- AUDIT-C by sex ----------------------------------------------------------------------------


def test_audit_c_applies_the_threshold_for_the_patients_sex(world):
    from tandem.patients.models import Patient

    three = {"1": 2, "2": 0, "3": 1}  # a total of 3
    client = world.client("practitioner")
    for sex, band in (("female", "Increasing risk (positive screen)"), ("male", "Lower risk"),
                      ("", "Increasing risk (positive screen)")):
        Patient.objects.filter(pk=world.p1.pk).update(sex_for_thresholds=sex)
        reply = client.post(f"/api/v1/patients/{world.p1.pk}/responses",
                            {"instrument": "audit-c", "answers": three},
                            content_type="application/json")
        assert (reply.status_code, reply.json()["band"]) == (201, band), sex
    scored = client.post("/api/v1/instruments/audit-c/score", {"answers": three, "sex": "male"},
                         content_type="application/json").json()["scales"][0]
    assert (scored["band"], scored["note"]) == ("Lower risk", "")
    unknown = client.post("/api/v1/instruments/audit-c/score", {"answers": three},
                          content_type="application/json").json()["scales"][0]
    assert unknown["band"] == "Increasing risk (positive screen)"
    assert unknown["note"] == "Sex not recorded: the lower threshold was used."
    # Not recorded (as now): the results say which threshold was used, to staff and patient.
    staff = client.get(f"/patients/{world.p1.pk}/checkups/").content.decode()
    assert "Sex for clinical thresholds is not recorded, so the lower (women's) threshold" in staff
    portal = world.client("patient").get("/portal/progress/").content.decode()
    assert "lower of two thresholds" in portal
    form = client.get(f"/patients/{world.p1.pk}/edit/").content.decode()
    assert "Sex for clinical thresholds" in form


def test_an_answer_taken_back_then_given_again_after_the_flag_was_resolved_is_flagged(world):
    client = world.client("patient")
    base = start(client)[:-2]
    answer(client, f"{base}9/", "2")
    answer(client, f"{base}9/", "0")  # taken back: the open flag says so
    (flag,) = flags(world.p1, "safety-answer")
    assert "later changed to “Not at all”" in flag.evidence
    resolve(world, flag)  # the clinician closed it having seen "Not at all"
    assert "/help/" in answer(client, f"{base}9/", "1")["Location"]
    old, new = flags(world.p1, "safety-answer")
    assert not old.is_open and new.is_open and "“Several days”" in new.evidence


def test_an_open_safety_flag_follows_a_change_to_rather_not_say(world):
    client = world.client("patient")
    base = start(client)[:-2]
    answer(client, f"{base}9/", "3")
    answer(client, f"{base}9/", "declined")
    (urgent,) = flags(world.p1, "safety-answer")
    assert urgent.is_open and "later changed to “I'd rather not say”" in urgent.evidence
    assert len(flags(world.p1, "safety-unanswered")) == 1


def test_a_draft_with_contradicting_answers_is_kept_and_its_urgent_answer_flagged(world):
    from tandem.assessment.models import UrgentAnswer

    UrgentAnswer.objects.create(organisation=world.org, instrument_code="top",
                                item_id="inject_shared_needle", at_least=1,
                                message="injected with a needle someone else had used")
    from tandem.assessment import registry

    answers = {item.id: 0 for item in registry.shipped()["top"].items if item.type == "integer"}
    answers |= {"housing_acute": False, "housing_eviction_risk": False,
                "inject_shared_needle": True}  # but no days of injecting
    client = world.client("practitioner")
    made = client.post(f"/api/v1/patients/{world.p1.pk}/responses", {
        "instrument": "top", "submit": False, "answers": answers},
        content_type="application/json")
    assert made.status_code == 201 and len(made.json()["urgent_flags"]) == 1
    rid = made.json()["id"]
    submitted = client.post(f"/api/v1/patients/{world.p1.pk}/responses/{rid}/submit")
    assert submitted.status_code == 422
    assert [p["loc"][-1] for p in submitted.json()["detail"]] == ["inject_shared_needle"]
    draft = Response.objects.get(pk=rid)
    assert draft.is_draft and draft.answers["inject_shared_needle"] is True
    assert flags(world.p1, "safety-answer")[0].is_open


def test_a_failure_while_evaluating_at_once_keeps_the_check_up_and_its_urgent_flag(
        world, monkeypatch):
    from django_tasks_db.models import DBTaskResult

    def broken(*args, **kwargs):
        raise RuntimeError("a rule broke")

    monkeypatch.setattr(evaluate, "gather", broken)
    _url, reply = enter(world.client("practitioner"), world.p1, "phq9",
                        {str(i): "0" for i in range(1, 9)} | {"9": "2"})
    assert reply.status_code == 302
    assert Response.objects.get(patient=world.p1).status == "completed"
    assert flags(world.p1, "safety-answer")[0].severity == "urgent"
    assert DBTaskResult.objects.filter(status="READY").count() == 1  # left for the worker


@pytest.mark.parametrize("way", ["one check-up", "a batch"])
def test_answers_are_never_stored_unchecked_when_no_app_checks_them(world, way):
    """The urgent-flag check reaches monitoring through assessment's events (the apps depend
    one way). If nothing received them, the answers are refused, never stored unchecked."""
    from django.core.exceptions import ImproperlyConfigured
    from django.db import transaction

    from tandem.assessment import events, registry, responses
    from tandem.audit.actor import Actor

    signal, uid = {"one check-up": (events.answers_saved, "monitoring-answers"),
                   "a batch": (events.batch_recorded, "monitoring-batch")}[way]
    receivers = list(signal.receivers)
    signal.disconnect(dispatch_uid=uid)
    actor = Actor(world.users["practitioner"], "practitioner", path="/test")
    phq9 = registry.available(world.org)["phq9"]
    answers = {str(i): 0 for i in range(1, 9)} | {"9": 2}
    try:
        with pytest.raises(ImproperlyConfigured), transaction.atomic():
            if way == "one check-up":
                responses.record_complete(actor, world.p1, phq9, answers, mode="staff")
            else:
                responses.record_batch(actor, [responses.Submission(world.p1.pk, "phq9", answers)])
    finally:
        signal.receivers[:] = receivers
        signal.sender_receivers_cache.clear()
    assert not Response.objects.filter(patient=world.p1).exists()


def test_an_uploaded_questionnaire_cannot_make_its_safety_question_optional():
    from tandem.core.instruments import DefinitionError, parse

    definition = {
        "code": "mine", "title": "Mine", "version": "1", "citation": "here",
        "licence": {"terms": "ours", "source": "here"},
        "items": [{"id": "q1", "text": "Q", "type": "choice", "required": False,
                   "options": [{"value": 0, "label": "No"}, {"value": 1, "label": "Yes"}]}],
        "scales": [{"code": "t", "title": "T", "items": ["q1"], "range": [0, 1],
                    "higher_is": "worse"}],
        "safety": [{"item": "q1", "at_least": 1, "message": "said yes", "citation": "here"}],
    }
    with pytest.raises(DefinitionError) as problem:
        parse(definition)
    assert any(p.startswith("safety[0].item: 'q1' is a safety question") for p in
               problem.value.problems)


def test_the_word_declined_is_an_ordinary_answer_where_it_cannot_mean_rather_not_say(world):
    reply = world.client("practitioner").post(
        "/api/v1/instruments/top/score", {"answers": {"other_name": "declined",
                                                       "inject_w1": "declined"}},
        content_type="application/json")
    assert reply.status_code == 422
    assert reply.json()["detail"] == [{"loc": ["body", "answers", "inject_w1"],
                                       "msg": "Enter a whole number from 0 to 7 days."}]


def test_the_portal_says_at_once_when_injecting_days_exceed_the_days_of_use(world):
    import re as regex

    client = world.client("patient")
    base = start(client, "top")[:-2]
    for n in range(1, 9):  # no use of anything in any week
        page = client.get(f"{base}{n}/").content.decode()
        names = regex.findall(r'name="(item_[a-z0-9_]+)"', page)
        client.post(f"{base}{n}/", {**{name: "0" for name in names
                                       if not name.endswith(("amount", "name"))},
                                    "action": "next"})
    reply = client.post(f"{base}9/", {"item_inject_w1": "2", "item_inject_w2": "0",
                                      "item_inject_w3": "0", "item_inject_w4": "0",
                                      "item_inject_shared_needle": "no",
                                      "item_inject_shared_equipment": "no", "action": "next"})
    assert reply.status_code == 200  # the same screen, saying what is wrong
    assert "Injecting on 2 days in week 1 is more than the days of using any drug" in (
        reply.content.decode())
    assert Response.objects.get(patient=world.p1).answers["inject_w1"] == 2  # kept
