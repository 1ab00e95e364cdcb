"""Check-ups as patients and practitioners use them: one question per screen in the portal,
drafts that survive a lost session, item-level messages, safety answers raising an urgent flag
at once, practitioner entry, results, and schedules that follow the episode."""

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from tandem.assessment.models import (
    Checkup,
    CheckupSchedule,
    CheckupSettings,
    CrisisContact,
    Response,
    UrgentAnswer,
)
from tandem.monitoring.models import Flag
from tests.conftest import PASSWORD

PHQ9_LOW = {str(i): 0 for i in range(1, 10)}


def start(client, code="phq9"):
    """Into the signed-in patient's check-up, their service's check-up being this one
    questionnaire (so its steps are the questionnaire's own screens): where it begins, or
    carries on."""
    from tandem.patients.models import Patient

    patient = Patient.objects.get(portal_user_id=client.session["_auth_user_id"])
    CheckupSettings.objects.update_or_create(organisation=patient.organisation,
                                             defaults={"instruments": [code]})
    response = client.post("/portal/checkup/begin/")
    assert response.status_code == 302, response.content[:300]
    assert re.search(r"/portal/checkup/[0-9a-f-]+/(\d+|answers)/$", response["Location"])
    return response["Location"]


def answer(client, url, value, action="next", item=None):
    item = item or re.search(r"/(\d+)/$", url).group(1)
    return client.post(url, {f"item_{item}": value, "action": action})


def test_portal_shows_a_check_up_is_due(world):
    page = world.client("patient").get("/portal/checkups/").content.decode()
    assert "A check-up is due" in page
    assert "Outcomes profile" in page and "PHQ-9" in page
    # One start for all of it, not a button per questionnaire.
    assert page.count('action="/portal/checkup/begin/"') == 1
    assert "/portal/checkups/start/" not in page and "Start my check-up" in page


def test_one_question_per_screen_and_resume_after_the_session_is_lost(world):
    client = world.client("patient")
    url = start(client)
    assert url.endswith("/1/")
    page = client.get(url).content.decode()
    assert "Question 1 of 9" in page and "Little interest or pleasure in doing things" in page
    for n in (1, 2, 3):
        reply = answer(client, f"{url[:-2]}{n}/", "2" if n == 2 else "1")
        assert reply.status_code == 302 and reply["Location"].endswith(f"/{n + 1}/")
    # The session ends abruptly (phone lost, cookies gone). Sign in again on another device.
    other = Client()
    signed_in = other.post("/accounts/login/", {"username": "patient", "password": PASSWORD})
    assert signed_in.status_code == 302
    assert "Carry on" in other.get("/portal/checkups/").content.decode()
    resumed = start(other)
    assert resumed == f"{url[:-2]}4/"  # the same check-up, at the screen they had reached
    draft = Response.objects.get(patient=world.p1)
    assert draft.answers == {"1": 1, "2": 2, "3": 1} and draft.is_draft


def test_save_and_finish_later_keeps_the_answer(world):
    client = world.client("patient")
    url = start(client)
    reply = answer(client, url, "3", action="later")
    assert reply["Location"] == "/portal/"
    assert Response.objects.get(patient=world.p1).answers == {"1": 3}


def test_bad_answers_are_refused_item_by_item_and_kept_on_screen(world):
    client = world.client("patient")
    url = start(client, "top")
    page = client.post(url, {"item_alcohol_w1": "9", "item_alcohol_w2": "two",
                             "item_alcohol_w3": "1", "item_alcohol_w4": "",
                             "item_alcohol_amount": "5", "action": "next"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Enter a whole number from 0 to 7 days." in text
    assert 'value="two"' in text and 'value="9"' in text  # what was typed stays
    assert "Answer this question" in text  # week 4 left blank
    assert Response.objects.get(patient=world.p1).answers == {}


def test_safety_answer_shows_crisis_contacts_and_alerts_the_care_team_at_once(world):
    client = world.client("patient")
    url = start(client)
    base = url[:-2]
    for n in range(1, 9):
        answer(client, f"{base}{n}/", "0")
    reply = answer(client, f"{base}9/", "1")
    assert "/help/" in reply["Location"]
    help_page = client.get(reply["Location"]).content.decode()
    assert "Samaritans" in help_page and "116 123" in help_page
    assert "Your care team has been told today" in help_page
    # Recorded now, before the check-up is even finished.
    flag = Flag.objects.get(patient=world.p1)
    assert flag.severity == "urgent" and flag.is_open and "question 9" in flag.evidence
    assert "Several days" in flag.evidence
    staff = world.client("practitioner").get(f"/patients/{world.p1.pk}/").content.decode()
    assert "Needs attention" in staff and "Several days" in staff
    # Answering again never raises a second flag for the same evidence.
    answer(client, f"{base}9/", "2")
    assert Flag.objects.filter(patient=world.p1).count() == 1


def test_service_crisis_contacts_replace_the_national_defaults(world):
    CrisisContact.objects.create(organisation=world.org, name="Riverside duty worker",
                                 phone="01234 567890", hours="9am to 5pm")
    client = world.client("patient")
    url = start(client)
    reply = answer(client, url[:-2] + "9/", "3")
    page = client.get(reply["Location"]).content.decode()
    assert "Riverside duty worker" in page and "Samaritans" not in page


def test_an_answer_the_service_marks_urgent_raises_a_flag(world):
    UrgentAnswer.objects.create(organisation=world.org, instrument_code="top",
                                item_id="inject_shared_needle", at_least=1,
                                message="injected with a needle someone else had used")
    client = world.client("patient")
    url = start(client, "top")
    base = url[:-2]
    for n in range(1, 9):
        page = client.get(f"{base}{n}/").content.decode()
        names = re.findall(r'name="(item_[a-z0-9_]+)"', page)
        data = {name: "0" for name in names if not name.endswith(("amount", "name"))}
        if "item_opioids_w1" in data:  # injecting needs days of use in the same week
            data["item_opioids_w1"] = "2"
        client.post(f"{base}{n}/", {**data, "action": "next"})
    reply = client.post(f"{base}9/", {"item_inject_w1": "2", "item_inject_w2": "0",
                                      "item_inject_w3": "0", "item_inject_w4": "0",
                                      "item_inject_shared_needle": "yes", "action": "next"})
    assert "/help/" in reply["Location"]
    assert "needle someone else had used" in Flag.objects.get(patient=world.p1).evidence


def test_submit_scores_and_moves_the_schedule(world):
    client = world.client("patient")
    url = start(client)
    base = url[:-2]
    for n in range(1, 10):
        answer(client, f"{base}{n}/", "2" if n <= 5 else "1" if n < 9 else "0")
    review = client.get(f"{base}answers/")
    assert review.status_code == 200
    draft = Response.objects.get(patient=world.p1)
    done = client.post(f"{base}answers/")
    assert done["Location"] == f"{base}done/"
    assert client.get(done["Location"]).status_code == 200
    # The done page gives no number; the patient's own progress page has the score and band.
    progress = client.get("/portal/progress/").content.decode()
    assert re.search(r"<td>13</td>\s*<td>Moderate</td>", progress)
    draft.refresh_from_db()
    assert draft.status == "completed" and draft.headline == 13 and draft.scores["total"] == 13
    assert draft.mode == "self" and draft.entered_by == world.users["patient"]
    assert draft.episode == world.p1.episodes.get() and draft.instrument_version
    schedule = CheckupSchedule.objects.get(patient=world.p1)
    assert schedule.next_due is not None


def test_review_lists_unanswered_questions(world):
    client = world.client("patient")
    url = start(client)
    page = client.post(url[:-2] + "answers/").content.decode()
    assert "Some questions still need an answer" in page
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    assert summary.count("Answer this question.") == 9
    assert Response.objects.get(patient=world.p1).is_draft  # nothing sent


def test_another_patients_check_up_is_not_reachable(world):
    from tests.conftest import make_user

    checkup = Checkup.objects.create(organisation=world.org, patient=world.p2,
                                     instrument_codes=["phq9"])
    Response.objects.create(organisation=world.org, patient=world.p2, checkup=checkup,
                            instrument_code="phq9", instrument_version="1", mode="self")
    other = make_user(world.org, "patient2", "patient")
    world.p3.portal_user = other
    world.p3.save()
    client = Client()
    client.force_login(other)
    assert client.get(f"/portal/checkup/{checkup.pk}/1/").status_code == 404
    assert client.get(f"/portal/checkup/{checkup.pk}/answers/").status_code == 404


def enter(client, patient, code, answers, action="finish"):
    reply = client.post(f"/patients/{patient.pk}/checkups/new/",
                        {"instrument": code, "mode": "with-practitioner"})
    assert reply.status_code == 302, reply.content[:500]
    url = reply["Location"]
    return url, client.post(url, {**{f"item_{k}": v for k, v in answers.items()},
                                  "action": action})


def test_practitioner_enters_a_check_up_in_a_session(world):
    client = world.client("practitioner")
    answers = {str(i): "1" for i in range(1, 8)}
    url, bad = enter(client, world.p1, "gad7", answers | {"3": "5", "7": ""})
    text = bad.content.decode()
    assert bad.status_code == 200
    assert "Choose one of the answers given." in text and "Answer this question." in text
    assert Response.objects.get(patient=world.p1).answers == {}  # nothing half-saved
    done = client.post(url, {**{f"item_{k}": v for k, v in answers.items()}, "action": "finish"})
    assert done.status_code == 302
    response = Response.objects.get(patient=world.p1)
    assert response.status == "completed" and response.headline == 7
    assert response.band == "Mild anxiety" or response.band.startswith("Mild")
    assert response.mode == "with-practitioner"
    assert response.entered_by == world.users["practitioner"]
    detail = client.get(done["Location"]).content.decode()
    assert "Feeling nervous, anxious, or on edge" in detail


def test_practitioner_draft_keeps_everything_typed(world):
    client = world.client("practitioner")
    url, saved = enter(client, world.p1, "phq9", {"1": "2", "2": "3"}, action="save")
    assert saved.status_code == 302
    assert Response.objects.get(patient=world.p1).answers == {"1": 2, "2": 3}
    assert re.search(r'name="item_2" value="3" id="id_item_2_3" checked',
                     client.get(url).content.decode())


def test_practitioner_entering_a_safety_answer_gets_crisis_contacts(world):
    client = world.client("practitioner")
    url, reply = enter(client, world.p1, "phq9", PHQ9_LOW | {"9": "2"}, action="save")
    page = client.get(reply["Location"]).content.decode()
    assert "Urgent alert recorded for the care team" in page
    assert Flag.objects.get(patient=world.p1).severity == "urgent"


def complete(patient, code, answers, days_ago, mode="self"):
    from tandem.assessment import registry
    from tandem.assessment.responses import store_result
    from tandem.core.scoring import score

    instrument = registry.shipped()[code]
    when = timezone.now() - datetime.timedelta(days=days_ago)
    response = Response(organisation=patient.organisation, patient=patient,
                        instrument_code=code, instrument_version=instrument.version, mode=mode,
                        status="completed", answers=answers, started_at=when, updated_at=when,
                        completed_at=when)
    store_result(response, score(instrument, answers))
    response.save()
    return response


def test_results_show_charts_tables_and_reliable_change(world, django_assert_max_num_queries):
    complete(world.p1, "phq9", {str(i): 2 for i in range(1, 10)}, 80)   # 18
    complete(world.p1, "phq9", {str(i): 2 for i in range(1, 10)} | {"1": 1}, 50)  # 17
    complete(world.p1, "phq9", {str(i): 1 for i in range(1, 10)}, 10)   # 9
    ratings = {c: 4 for c in ("drug_use", "alcohol_use", "physical_health", "mental_health",
                              "distress", "housing", "eating", "relationships", "social_life",
                              "daytime", "money", "offending", "family")}
    complete(world.p1, "life-domains", ratings, 80)
    complete(world.p1, "life-domains", ratings | {"housing": 8}, 10)
    substances = ("alcohol", "opioids", "crack", "cocaine", "amphetamines", "cannabis", "other",
                  "tobacco", "inject")
    top = {f"{s}_w{w}": 0 for s in substances for w in (1, 2, 3, 4)}
    top |= {"crack_w1": 3, "crack_w2": 1, "psych_health": 8, "phys_health": 10,
            "quality_of_life": 9, "work_days": 0, "education_days": 0, "housing_acute": False,
            "housing_eviction_risk": False}
    complete(world.p1, "top", top, 10)
    client = world.client("practitioner")
    with django_assert_max_num_queries(40):
        page = client.get(f"/patients/{world.p1.pk}/checkups/").content.decode()
    # PHQ-9; life domains overall and star; TOP's five "higher is better" scales.
    assert page.count("<svg") == 8
    assert "First to latest check-up: <strong>reliably improved</strong> (18 → 9)" in page
    assert "no reliable change" in page  # 18 → 17
    assert "Housing" in page and "Use, week by week" in page and "Crack" in page
    assert "Moderately severe" in page


def test_schedule_follows_exit_and_re_entry(world):
    from tandem.assessment.schedules import refresh_schedule

    patient = world.p1
    episode = patient.episodes.get()
    refresh_schedule(patient)
    schedule = CheckupSchedule.objects.get(patient=patient)
    # The episode began 90 days ago with no check-up: the start one was missed, the 12-week
    # one is overdue.
    assert schedule.next_kind == "in-treatment"
    assert schedule.next_due == episode.start_date + datetime.timedelta(weeks=12)
    client = world.client("practitioner")
    today = timezone.localdate()
    exit_date = today - datetime.timedelta(days=40)
    reply = client.post(f"/patients/{patient.pk}/episodes/{episode.pk}/", {
        "setting": "community", "status": "post-exit-monitoring",
        "exit_date": exit_date.isoformat(), "exit_reason": "completed_free",
        "version": str(episode.version)})
    assert reply.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.next_kind, schedule.next_due) == ("exit", exit_date)
    for code in ("top", "life-domains", "phq9", "gad7"):
        Response.objects.create(organisation=world.org, patient=patient, instrument_code=code,
                                instrument_version="1", mode="self", status="completed",
                                completed_at=timezone.now() - datetime.timedelta(days=40))
    refresh_schedule(patient)
    schedule.refresh_from_db()
    assert schedule.next_kind == "post-exit"
    from tandem.core.schedule import add_months

    assert schedule.next_due == add_months(exit_date, 3)
    # Re-entry: a new episode starts, its start check-up is due that day.
    reply = client.post(f"/patients/{patient.pk}/episodes/new/", {
        "start_date": today.isoformat(), "setting": "community"})
    assert reply.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.next_kind, schedule.next_due) == ("start", today)


@pytest.mark.parametrize("role", ["prescriber", "team_lead"])
def test_other_staff_see_results(world, role):
    assert world.client(role).get(f"/patients/{world.p1.pk}/checkups/").status_code == 200


def test_a_patient_can_have_their_own_interval(world):
    client = world.client("practitioner")
    url = f"/patients/{world.p1.pk}/checkups/schedule/"
    assert "the service's interval (12 weeks)" in client.get(url).content.decode()
    bad = client.post(url, {"interval_weeks": "0"}).content.decode()
    assert "Ensure this value is greater than or equal to 1." in bad
    assert client.post(url, {"interval_weeks": "4", "version": "service"}).status_code == 302
    schedule = CheckupSchedule.objects.get(patient=world.p1)
    episode = world.p1.episodes.get()
    # Started 90 days ago, nothing done: every 4 weeks, the latest occasion (day 84) is due.
    assert schedule.interval_weeks == 4
    assert schedule.next_due == episode.start_date + datetime.timedelta(weeks=12)
    client.post(url, {"interval_weeks": "6", "version": "4"})
    schedule.refresh_from_db()
    assert schedule.next_due == episode.start_date + datetime.timedelta(weeks=12)
    client.post(url, {"interval_weeks": "5", "version": "6"})
    schedule.refresh_from_db()
    # Day 70's check-up is overdue: day 105's window has not opened yet (it opens on day 91).
    assert schedule.next_due == episode.start_date + datetime.timedelta(weeks=10)


def test_patients_see_their_own_progress(world):
    complete(world.p1, "phq9", {str(i): 2 for i in range(1, 10)}, 80)
    complete(world.p1, "phq9", {str(i): 1 for i in range(1, 10)}, 10)
    client = world.client("patient")
    assert "See my progress" in client.get("/portal/checkups/").content.decode()
    page = client.get("/portal/progress/").content.decode()
    assert page.count("<svg") == 1 and "reliably improved" in page
    assert "/view/" not in page  # no links into staff pages
