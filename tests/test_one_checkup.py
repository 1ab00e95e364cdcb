"""One check-up, not four questionnaires: the questionnaires due together are started once,
answered as one run of numbered questions with one progress bar, saved as they go (where the
patient is, too, so they carry on at the same question on any device), checked on one page and
sent at once, with one "done" page. Ratings are answered with buttons. A safety answer shows
help at once and raises its flag before the check-up is finished."""

import json
import re

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from tandem.assessment import checkups, registry
from tandem.assessment.models import Checkup, CheckupSettings, Response
from tandem.assessment.responses import record_complete
from tandem.audit.actor import Actor
from tandem.monitoring.models import Flag
from tests.conftest import PASSWORD

BEGIN = "/portal/checkup/begin/"
DEFAULT = ["top", "life-domains", "phq9", "gad7"]


def total_steps(codes=DEFAULT):
    shipped = registry.shipped()
    return sum(len(checkups.pages(shipped[code])) for code in codes)


def begin(client):
    reply = client.post(BEGIN)
    assert reply.status_code == 302, reply.content[:300]
    return reply["Location"]


def step_url(checkup, number):
    return f"/portal/checkup/{checkup.pk}/{number}/"


def fields(page: str) -> dict[str, str]:
    """An ordinary answer for every question on a screen: the first choice (or "No"), 0 for
    days, blank for amounts and names; and the page's record of what was saved."""
    data = {}
    for name, value in re.findall(r'<input type="radio" name="(item_[^"]+)" value="([^"]*)"',
                                  page):
        if name not in data or value == "no":
            data[name] = value
    for tag in re.findall(r'<input type="text"[^>]*>', page):
        name = re.search(r'name="([^"]+)"', tag).group(1)
        numeric = 'inputmode="numeric"' in tag
        data[name] = "0" if numeric and not name.endswith(("amount", "name")) else ""
    seen = re.search(r'name="seen" value="([^"]*)"', page)
    if seen:
        data["seen"] = seen.group(1).replace("&quot;", '"')
    return data


def answer_step(client, url, **changes):
    page = client.get(url).content.decode()
    data = {**fields(page), "action": "next", **changes}
    return client.post(url, data)


def run_to_review(client, checkup, start=1, overrides=None):
    overrides = overrides or {}
    total = total_steps(checkup.instrument_codes)
    for number in range(start, total + 1):
        reply = answer_step(client, step_url(checkup, number), **overrides.get(number, {}))
        assert reply.status_code == 302, (number, reply.content.decode()[:2000])
    return reply


def the_checkup(world):
    return Checkup.objects.get(patient=world.p1)


def test_begin_starts_one_check_up_of_everything_due(world):
    client = world.client("patient")
    location = begin(client)
    checkup = the_checkup(world)
    assert location == step_url(checkup, 1)
    assert checkup.instrument_codes == DEFAULT and checkup.is_open
    assert sorted(r.instrument_code for r in checkup.responses.all()) == sorted(DEFAULT)
    page = client.get(location).content.decode()
    assert f"Question 1 of {total_steps()}" in page
    assert "Part 1 of 4: Drink, drugs, health and daily life" in page


def test_progress_counts_across_every_questionnaire(world):
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    shipped = registry.shipped()
    first_phq9 = 1 + sum(len(checkups.pages(shipped[c])) for c in ("top", "life-domains"))
    page = client.get(step_url(checkup, first_phq9)).content.decode()
    assert f"Question {first_phq9} of {total_steps()}" in page
    assert f'<progress max="{total_steps()}" value="{first_phq9 - 1}"' in page
    assert "Part 3 of 4: Your mood" in page and "Little interest or pleasure" in page
    # Next from the last screen of one questionnaire goes on to the first of the next.
    reply = answer_step(client, step_url(checkup, first_phq9 - 1))
    assert reply["Location"] == step_url(checkup, first_phq9)
    assert client.get(step_url(checkup, total_steps() + 1)).status_code == 404


def test_carry_on_at_the_same_question_after_signing_out_on_another_device(world):
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    for number in range(1, 12):
        answer_step(client, step_url(checkup, number))
    reply = client.post(step_url(checkup, 12),
                        {**fields(client.get(step_url(checkup, 12)).content.decode()),
                         "action": "later"})
    assert reply["Location"] == "/portal/"
    client.post("/accounts/logout/")
    # A new device, a new session.
    other = Client()
    assert other.post("/accounts/login/", {"username": "patient",
                                           "password": PASSWORD}).status_code == 302
    page = other.get("/portal/checkups/").content.decode()
    assert "Carry on my check-up" in page
    assert begin(other) == step_url(checkup, 12)
    assert Checkup.objects.filter(patient=world.p1).count() == 1
    # Back from a screen remembers the earlier one.
    other.post(step_url(checkup, 12), {"action": "back"})
    assert begin(other) == step_url(checkup, 11)


def test_one_review_one_send_and_one_done_page(world):
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    reply = run_to_review(client, checkup)
    answers_url = f"/portal/checkup/{checkup.pk}/answers/"
    assert reply["Location"] == answers_url
    review = client.get(answers_url).content.decode()
    assert review.count("<h2 id=\"part-") == 4 and "Send my answers" in review
    assert begin(client) == answers_url  # carrying on comes back to the review
    done = client.post(answers_url)
    assert done["Location"] == f"/portal/checkup/{checkup.pk}/done/"
    checkup.refresh_from_db()
    assert not checkup.is_open
    sent = Response.objects.filter(patient=world.p1)
    assert sent.count() == 4 and all(r.status == "completed" and r.checkup_id == checkup.pk
                                     for r in sent)
    page = client.get(done["Location"]).content.decode()
    assert "your check-up is done" in page and "Your mood" in page
    assert "Your score" not in page and "Help is available now" not in page
    # The feedback report, one link away.
    assert "Your feedback report" in page and 'href="/portal/feedback/"' in page
    # A second press of "Send" (or the back button) sends nothing again.
    assert client.post(answers_url)["Location"] == done["Location"]
    assert Response.objects.filter(patient=world.p1).count() == 4
    # Nothing is due now: starting again says so.
    reply = client.post(BEGIN, follow=True)
    assert reply.status_code == 200
    assert "Nothing is due just now" in reply.content.decode()
    assert Checkup.objects.filter(patient=world.p1).count() == 1


def test_the_review_names_each_question_still_to_answer_and_sends_nothing(world):
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    answer_step(client, step_url(checkup, 1))
    page = client.post(f"/portal/checkup/{checkup.pk}/answers/").content.decode()
    assert "Some questions still need an answer" in page and "Nothing has been sent yet" in page
    assert f'href="{step_url(checkup, 2)}"' in page
    assert not Response.objects.filter(patient=world.p1, status="completed").exists()
    assert the_checkup(world).is_open


def test_a_safety_answer_shows_help_at_once_and_is_flagged_before_the_end(world):
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    shipped = registry.shipped()
    q9 = sum(len(checkups.pages(shipped[c])) for c in ("top", "life-domains")) + 9
    for number in range(1, q9):
        answer_step(client, step_url(checkup, number))
    reply = answer_step(client, step_url(checkup, q9), item_9="1")  # "Several days"
    assert reply["Location"] == f"/portal/checkup/{checkup.pk}/help/{q9 + 1}/"
    (flag,) = Flag.objects.filter(patient=world.p1, rule="safety-answer")
    assert flag.severity == "urgent" and flag.is_open
    assert the_checkup(world).is_open  # nothing sent yet: the flag did not wait for the end
    page = client.get(reply["Location"]).content.decode()
    assert "Help is available now" in page and "116 123" in page
    assert f'href="{step_url(checkup, q9 + 1)}"' in page  # carry on with the check-up
    # Sent later, the done page says only what fits a safety answer.
    run_to_review(client, checkup, start=q9 + 1)
    done = client.post(f"/portal/checkup/{checkup.pk}/answers/")
    page = client.get(done["Location"]).content.decode()
    assert "Help is available now" in page and "will get in touch" in page
    assert Flag.objects.filter(patient=world.p1, rule="safety-answer").count() == 1


def test_a_declined_safety_question_is_said_kindly_at_the_end(world):
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    shipped = registry.shipped()
    q9 = sum(len(checkups.pages(shipped[c])) for c in ("top", "life-domains")) + 9
    run_to_review(client, checkup, overrides={q9: {"item_9": "declined"}})
    done = client.post(f"/portal/checkup/{checkup.pk}/answers/")
    page = client.get(done["Location"]).content.decode()
    assert "You chose not to answer one of the questions" in page


def test_bad_input_names_the_question_and_keeps_everything_typed(world):
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    page = client.post(step_url(checkup, 1), {
        "item_alcohol_w1": "2", "item_alcohol_w2": "nine", "item_alcohol_w3": "8",
        "item_alcohol_w4": "1", "item_alcohol_amount": "6", "action": "next"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Enter a whole number from 0 to 7 days." in text
    assert "Week 2 (8 to 14 days ago)" in text  # the question is named in the summary
    for typed in ('value="2"', 'value="nine"', 'value="8"', 'value="1"', 'value="6"'):
        assert typed in text
    assert Response.objects.get(patient=world.p1, instrument_code="top").answers == {}


def test_ratings_are_buttons_with_their_ends_named(world):
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    first = 1 + len(checkups.pages(registry.shipped()["top"]))
    page = client.get(step_url(checkup, first)).content.decode()
    assert "<fieldset" in page and "<legend" in page
    assert "How are things with your drug use?" in page
    values = re.findall(r'<input type="radio" name="item_drug_use" value="(\d+)"', page)
    assert values == [str(n) for n in range(11)]
    assert "0 = very bad" in page and "10 = very good" in page
    assert 'class="rating-option"' in page and 'type="text"' not in page
    # Out of range (a hand-made request): refused, naming the question, nothing kept.
    reply = client.post(step_url(checkup, first), {"item_drug_use": "11", "action": "next"})
    text = reply.content.decode()
    assert reply.status_code == 200 and "How are things with your drug use?: " in text
    assert "0 to 10" in text
    reply = client.post(step_url(checkup, first), {"item_drug_use": "7", "action": "next"})
    assert reply.status_code == 302
    assert Response.objects.get(instrument_code="life-domains").answers == {"drug_use": 7}
    again = client.get(step_url(checkup, first)).content.decode()
    assert re.search(r'value="7"[^>]*checked', again)
    # Days and amounts stay numbers to type.
    top = client.get(step_url(checkup, 1)).content.decode()
    assert re.search(r'<input type="text" name="item_alcohol_w1"[^>]*inputmode="numeric"', top)


def test_two_presses_of_start_make_one_check_up(world):
    client = world.client("patient")
    first, second = begin(client), begin(client)
    assert first == second and Checkup.objects.filter(patient=world.p1).count() == 1
    assert Response.objects.filter(patient=world.p1).count() == 4
    # The database itself refuses a second open check-up (two requests at the same moment).
    with pytest.raises(IntegrityError), transaction.atomic():
        Checkup.objects.create(organisation=world.org, patient=world.p1)


def test_two_tabs_on_one_question_do_not_overwrite_each_other_silently(world):
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    first = 1 + len(checkups.pages(registry.shipped()["top"]))
    url = step_url(checkup, first)
    opened = fields(client.get(url).content.decode())  # tab B opens the question...
    answer_step(client, url, item_drug_use="3")  # ...tab A answers it
    reply = client.post(url, {**opened, "item_drug_use": "8", "action": "next"})  # tab B
    text = reply.content.decode()
    assert reply.status_code == 200 and "changed in another window" in text
    assert "Saved there: “3”" in text and re.search(r'value="8"[^>]*checked', text)
    assert Response.objects.get(instrument_code="life-domains").answers == {"drug_use": 3}
    # Pressing again, having seen it, keeps tab B's answer.
    reply = client.post(url, {**fields(text), "item_drug_use": "8", "action": "next"})
    assert reply.status_code == 302
    assert Response.objects.get(instrument_code="life-domains").answers == {"drug_use": 8}


def test_nothing_due_says_so(world):
    actor = Actor(user=world.users["practitioner"])
    for code in DEFAULT:
        ins = registry.shipped()[code]
        answers = {i.id: 0 for i in ins.items if i.type in ("integer", "choice", "decimal")}
        answers |= {i.id: False for i in ins.items if i.type == "boolean"}
        record_complete(actor, world.p1, ins, answers, mode="with-practitioner")
    client = world.client("patient")
    page = client.get("/portal/checkups/").content.decode()
    assert "Start my check-up" not in page
    reply = client.post(BEGIN, follow=True)
    assert reply.status_code == 200 and "Nothing is due just now" in reply.content.decode()
    assert not Checkup.objects.exists()


def record_draft(actor, patient, instrument, raw):
    """A draft as a questionnaire done on its own was kept: started, one screen saved."""
    from tandem.assessment import responses

    draft = responses.start(actor, patient, instrument, mode="self")
    responses.save_answers(actor, draft, instrument, raw, position=1)
    return draft


def first_step_of(checkup, code):
    return checkups.flow(checkup).step_of(code)


def test_a_questionnaire_started_on_its_own_is_carried_into_the_check_up(world):
    """A draft with no check-up (one the patient began before there was one check-up) is
    carried in, answers and all, and is the check-up's own from then on."""
    actor = Actor(user=world.users["patient"])
    gad7 = registry.available(world.org)["gad7"]
    draft = record_draft(actor, world.p1, gad7, {"1": "2"})
    assert draft.checkup_id is None
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    draft.refresh_from_db()
    assert draft.checkup_id == checkup.pk and draft.answers == {"1": 2}
    assert checkup.responses.count() == 4
    assert Response.objects.filter(patient=world.p1, instrument_code="gad7").count() == 1
    # Carrying on again stays inside the same check-up, with the answer on its screen.
    assert begin(client).startswith(f"/portal/checkup/{checkup.pk}/")
    page = client.get(step_url(checkup, first_step_of(checkup, "gad7"))).content.decode()
    assert re.search(r'name="item_1" value="2"[^>]*checked', page)


def test_a_draft_entered_by_staff_is_carried_into_the_check_up_and_sent_with_it(world):
    CheckupSettings.objects.create(organisation=world.org, instruments=["phq9"])
    staff = world.client("practitioner")
    made = staff.post(f"/patients/{world.p1.pk}/checkups/new/",
                      {"instrument": "phq9", "mode": "with-practitioner"})
    saved = staff.post(made["Location"], {"item_1": "2", "item_2": "3", "action": "save"})
    assert saved.status_code == 302
    draft = Response.objects.get(patient=world.p1)
    assert draft.is_draft and draft.checkup_id is None
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    draft.refresh_from_db()
    assert draft.checkup_id == checkup.pk and draft.answers == {"1": 2, "2": 3}
    assert re.search(r'name="item_2" value="3"[^>]*checked',
                     client.get(step_url(checkup, 2)).content.decode())
    reply = run_to_review(client, checkup, start=3)
    assert reply["Location"] == f"/portal/checkup/{checkup.pk}/answers/"
    client.post(reply["Location"])
    draft.refresh_from_db()
    assert draft.status == "completed" and draft.answers["1"] == 2
    assert Response.objects.filter(patient=world.p1).count() == 1


def test_only_questionnaires_due_are_in_it(world):
    CheckupSettings.objects.create(organisation=world.org, instruments=["phq9", "gad7"])
    client = world.client("patient")
    begin(client)
    assert the_checkup(world).instrument_codes == ["phq9", "gad7"]
    page = client.get(step_url(the_checkup(world), 10)).content.decode()
    assert "Question 10 of 16" in page and "Part 2 of 2: Worry and feeling on edge" in page


def test_another_patients_check_up_is_not_reachable(world):
    world.client("patient").post(BEGIN)
    checkup = the_checkup(world)
    from tandem.accounts.models import Role
    from tests.conftest import make_user

    other_user = make_user(world.org, "patient_two", Role.PATIENT)
    world.p2.portal_user = other_user
    world.p2.save()
    other = Client()
    other.force_login(other_user)
    for url in (step_url(checkup, 1), f"/portal/checkup/{checkup.pk}/answers/",
                f"/portal/checkup/{checkup.pk}/done/", f"/portal/checkup/{checkup.pk}/help/2/"):
        assert other.get(url).status_code == 404
    assert world.client("practitioner").get(step_url(checkup, 1)).status_code in (403, 404)


def test_a_step_page_takes_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    with django_assert_max_num_queries(25):
        assert client.get(step_url(checkup, 30)).status_code == 200


def test_the_seen_answers_compare_as_a_page_carries_them():
    assert checkups.as_posted(3.0) == "3" and checkups.as_posted(True) == "yes"
    assert checkups.as_posted("") is None and checkups.as_posted(None) is None
    assert json.dumps({"a": checkups.as_posted(0)}) == '{"a": "0"}'


