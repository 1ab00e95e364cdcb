""""My recovery", the portal's home: my next check-up as one button, what is waiting for me, my
goals in my words with where I said I am, my plan's next steps and review date, how I am doing
(with one small chart), my care team, and a one-line summary of who looked at my record with a
link to the whole list. Plain words, kind empty states, a fixed number of queries."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.assessment.models import Response
from tandem.assessment.schedules import InstrumentStatus
from tandem.audit.models import AuditEvent
from tandem.core.schedule import Occasion
from tandem.planning.models import (
    CarePlan,
    Goal,
    GoalRating,
    PlanAction,
    PlanProposal,
    PlanVersion,
    PrioritySort,
    Review,
    SortSession,
)
from tandem.portal import home
from tests.conftest import make_user, phq9
from tests.test_checkups import complete
from tests.test_plain_words import (
    NOT_FOR_PATIENTS,
    patient_client,  # noqa: F401 - a fixture
    walk,
)

TODAY = timezone.localdate()


def page(world, path="/portal/"):
    response = world.client("patient").get(path)
    assert response.status_code == 200
    return response, response.content.decode()


def section(text, heading_id):
    """The <section> labelled by `heading_id`, as text."""
    start = text.index(f'aria-labelledby="{heading_id}"')
    return text[start:text.index("</section>", start)]


def visible(markup):
    body = re.sub(r"<(script|style|svg)[^>]*>.*?</\1>", " ", markup, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", body)))


def goal(world, statement, priority=1, **extra):
    user = world.users["practitioner"]
    return Goal.objects.create(
        organisation=world.org, patient=world.p1, card="housing", statement=statement,
        proposed_by="both", priority=priority, gas_minus2="On the street",
        gas_minus1="Sofa surfing", gas_0="A room of my own", gas_plus1="A flat of my own",
        gas_plus2="A flat and settled", created_by=user, updated_by=user, **extra)


def plan(world, review_in_days=40, **extra):
    return CarePlan.objects.create(
        organisation=world.org, patient=world.p1, updated_by=world.users["practitioner"],
        review_date=TODAY + datetime.timedelta(days=review_in_days), **extra)


def action(world, found, description, status="in-progress"):
    return PlanAction.objects.create(
        organisation=world.org, plan=found, intervention="housing-support",
        description=description, status=status, frequency="every week",
        updated_by=world.users["practitioner"])


def review(world, found, days_ago, ratings):
    held = Review.objects.create(
        organisation=world.org, plan=found, created_by=world.users["practitioner"],
        held_on=TODAY - datetime.timedelta(days=days_ago), next_review=found.review_date)
    for g, level in ratings:
        GoalRating.objects.create(review=held, goal=g, patient_level=level,
                                  practitioner_level=level)
    return held


# --- my next check-up -------------------------------------------------------------------


def test_the_next_checkup_is_one_button_that_starts_the_one_checkup(world):
    _r, text = page(world)
    box = section(text, "checkup-h")
    assert "My next check-up" in box
    # A new patient 90 days into treatment has a check-up to do: one button, nothing else.
    assert box.count("home-go") == 1 and "Start my check-up" in box
    assert f'method="post" action="{reverse("portal:checkup-begin")}"' in box
    assert box.count("<button") == 1 and "csrfmiddlewaretoken" in box
    # The old per-questionnaire start buttons are not on the home.
    assert "/portal/checkups/start/" not in text


def test_the_feedback_report_is_one_link_away(world):
    _r, text = page(world)
    assert f'<a href="{reverse("portal:feedback")}">My feedback report</a>' in text


def test_a_started_checkup_is_carried_on(world):
    Response.objects.create(organisation=world.org, patient=world.p1, instrument_code="phq9",
                            instrument_version="x", mode="self")
    _r, text = page(world)
    box = section(text, "checkup-h")
    assert "Carry on my check-up" in box and box.count("home-go") == 1
    assert "Your answers so far are saved" in box


def _status(code, status=None, due=None, draft=None):
    occasion = Occasion("routine", due, due, None, status) if status else None
    return InstrumentStatus(code, object(), occasion, draft)


def test_the_one_checkup_is_what_is_due_across_its_questionnaires():
    soon, late = TODAY + datetime.timedelta(days=9), TODAY - datetime.timedelta(days=3)
    upcoming = home.next_checkup([_status("phq9", "upcoming", soon),
                                  _status("gad7", "upcoming", soon + datetime.timedelta(1))])
    assert (upcoming.state, upcoming.due, upcoming.to_do) == ("upcoming", soon, False)
    overdue = home.next_checkup([_status("phq9", "upcoming", soon),
                                 _status("gad7", "overdue", late), _status("k10", "due", TODAY)])
    assert (overdue.state, overdue.due, overdue.parts, overdue.to_do) == ("overdue", late, 2, True)
    draft = home.next_checkup([_status("phq9", "upcoming", soon, draft=object())])
    assert draft.state == "carry-on" and draft.to_do
    assert home.next_checkup([]).state == "none"
    assert home.next_checkup([InstrumentStatus("gone", None, None, None)]).state == "none"


# --- a new patient: kind empty states ----------------------------------------------------


def test_a_new_patient_reads_kind_words_where_there_is_nothing_yet(world):
    _r, text = page(world)
    words = visible(text)
    assert "<h1>My recovery</h1>" in text and "Hello, Pat." in words
    assert "You have no goals written down yet" in words
    assert "You have no recovery plan yet. You and your keyworker will write it together" in words
    assert "Once you have done a check-up, you will see here how things are going" in words
    assert "Waiting for me" not in words
    assert "Nobody at the service looked at your record in the last 30 days." in words
    assert "<svg" not in text


# --- anything waiting for me -------------------------------------------------------------


def test_a_priority_sort_a_plan_to_sign_and_a_change_i_asked_for_are_waiting(world):
    practitioner = world.users["practitioner"]
    new = SortSession.objects.create(organisation=world.org, patient=world.p1,
                                     started_by=practitioner)
    sent = SortSession.objects.create(organisation=world.org, patient=world.p1,
                                      started_by=practitioner)
    PrioritySort.objects.create(organisation=world.org, session=sent, voice="patient",
                                submitted_at=timezone.now())
    found = plan(world)
    PlanVersion.objects.create(plan=found, number=1, snapshot={}, created_by=practitioner)
    asked = PlanProposal.objects.create(plan=found, text="More evening sessions",
                                        created_by=world.users["patient"])
    _r, text = page(world)
    box = section(text, "waiting-h")
    assert f'href="/portal/priorities/{new.pk}/">Sort the cards' in box
    assert f"/portal/priorities/{sent.pk}/" not in box  # already sent
    assert 'href="/portal/plan/">Read and sign my plan' in box
    assert "“More evening sessions”" in box
    assert "Waiting for your keyworker's answer" in visible(box)

    PrioritySort.objects.create(organisation=world.org, session=new, voice="patient")
    asked.status, asked.response = "accepted", "Yes: Tuesdays at six."
    asked.responded_at = timezone.now()
    asked.save()
    world.client("patient").post("/portal/plan/sign/")
    box = section(page(world)[1], "waiting-h")
    assert "Carry on sorting" in box
    assert "Read and sign my plan" not in box
    assert "Your keyworker agreed: “Yes: Tuesdays at six.”" in visible(box)


def test_an_answer_from_long_ago_is_no_longer_waiting(world):
    found = plan(world)
    PlanProposal.objects.create(
        plan=found, text="Fewer groups", created_by=world.users["patient"], status="discuss",
        response="Let's talk", responded_at=timezone.now() - datetime.timedelta(days=45))
    PlanVersion.objects.create(plan=found, number=1, snapshot={},
                               created_by=world.users["practitioner"],
                               patient_signed_at=timezone.now())
    assert "Waiting for me" not in page(world)[1]


# --- my goals, my plan -------------------------------------------------------------------


def test_my_goals_in_my_words_with_where_i_said_i_am_at_the_latest_review(world):
    flat = goal(world, "Get my own flat", 1)
    work = goal(world, "Find some work", 2)
    goal(world, "An old goal, finished", 3, lifecycle_status="completed")
    found = plan(world)
    review(world, found, 60, [(flat, -2), (work, 0)])
    latest = review(world, found, 10, [(flat, 1)])
    _r, text = page(world)
    box = visible(section(text, "goals-h"))
    assert "Housing: “Get my own flat”" in box
    day = f"{latest.held_on.day} {latest.held_on:%B %Y}"
    assert (f"At the review on {day} you said: Better than expected (“A flat of my own”)"
            in box)
    # Not rated at the latest review: the level it had at the one before.
    earlier = TODAY - datetime.timedelta(days=60)
    assert f"On {earlier.day}" not in box
    assert "you said: What we expect (“A room of my own”)" in box
    assert "An old goal" not in box
    assert 'href="/portal/goals/"' in section(text, "goals-h")


def test_a_goal_not_yet_reviewed_says_so(world):
    goal(world, "Get my own flat")
    assert "Not talked over at a review yet." in section(page(world)[1], "goals-h")


def test_my_plans_next_steps_and_when_we_next_review_it(world):
    found = plan(world, review_in_days=40)
    action(world, found, "See the housing officer")
    action(world, found, "Sign up at the library", status="not-started")
    action(world, found, "Fill in the old form", status="completed")
    _r, text = page(world)
    box = visible(section(text, "plan-h"))
    assert "See the housing officer" in box and "Sign up at the library" in box
    assert "every week" in box and "Fill in the old form" not in box
    when = found.review_date
    assert f"We look at your plan together again by {when.day} {when:%B %Y}." in box
    found.review_date = TODAY - datetime.timedelta(days=2)
    found.save()
    box = visible(section(page(world)[1], "plan-h"))
    assert "We were due to look at your plan together again on" in box
    assert "Ask your keyworker when you can meet." in box


def test_a_finished_plan_has_no_next_steps(world):
    found = plan(world, status="completed")
    action(world, found, "See the housing officer")
    box = visible(section(page(world)[1], "plan-h"))
    assert "Your last plan is finished" in box and "housing officer" not in box


# --- how I am doing ----------------------------------------------------------------------


def test_how_i_am_doing_says_what_changed_in_plain_words_with_one_chart(world):
    complete(world.p1, "phq9", {str(i): 2 for i in range(1, 10)}, 60)  # 18
    complete(world.p1, "phq9", {str(i): 1 for i in range(1, 10)}, 5)  # 9
    complete(world.p1, "gad7", {str(i): 1 for i in range(1, 8)}, 5)  # 7
    _r, text = page(world)
    box = section(text, "doing-h")
    words = visible(box)
    assert "PHQ-9: 9 on" in words and "18 the time before: a real improvement." in words
    assert "GAD-7: 7 on" in words and "your first." in words
    assert "Jacobson &amp; Truax 1991" in box
    assert box.count("<svg") == 1 and 'role="img"' in box
    assert "Your scores:" in box  # the chart's description says every figure
    assert "reliably" not in words.lower()
    assert 'href="/portal/progress/"' in box


def test_a_change_for_the_worse_is_said_without_judgement_or_advice(world):
    complete(world.p1, "phq9", {str(i): 1 for i in range(1, 10)}, 60)  # 9
    complete(world.p1, "phq9", {str(i): 2 for i in range(1, 10)}, 5)  # 18
    words = visible(section(page(world)[1], "doing-h"))
    assert "9 the time before: a real worsening." in words
    assert "keyworker" not in words.split("All my results")[0]  # no advice nobody asked for
    assert "change for the worse" not in words


@pytest.mark.parametrize(("before", "after", "words"), [
    (9, 18, "a real worsening"), (18, 9, "a real improvement"), (9, 11, "about the same")])
def test_the_home_and_the_feedback_report_word_a_change_the_same_way(world, before, after,
                                                                      words):
    from tandem.feedback import content

    complete(world.p1, "phq9", phq9(before), 60)
    complete(world.p1, "phq9", phq9(after), 5)
    response, _text = page(world)
    home = next(line for line in response.context["doing"].lines if line.name == "PHQ-9")
    report = next(a for a in content.build(world.p1)["answers"] if a["key"] == "phq9-total")
    assert home.words == report["since_last"] == words
    assert words in content.CHANGE_WORDS.values()


# --- who has looked at my record ---------------------------------------------------------


def test_the_home_says_how_many_people_looked_and_links_to_the_list(world):
    world.client("practitioner").get(f"/patients/{world.p1.pk}/plan/")
    world.client("practitioner").get(f"/patients/{world.p1.pk}/checkups/")
    world.client("prescriber").get(f"/patients/{world.p1.pk}/")
    world.client("practitioner_b").get(f"/patients/{world.p1.pk}/")  # refused: not access
    _r, text = page(world)
    box = section(text, "access-h")
    assert "2 people looked at your record in the last 30 days." in visible(box)
    assert 'href="/portal/who-looked/"' in box
    assert "Looked at your plan" not in text  # the table is on its own page
    response, listing = page(world, "/portal/who-looked/")
    assert "Practitioner Tester (keyworker)" in listing
    assert "Looked at your plan and your check-ups." in listing
    assert 'href="/portal/"' in listing


def test_one_person_is_said_in_the_singular(world):
    world.client("practitioner").get(f"/patients/{world.p1.pk}/plan/")
    assert ("1 person looked at your record in the last 30 days."
            in visible(section(page(world)[1], "access-h")))


def test_opening_the_list_is_recorded_as_the_access_log(world):
    page(world, "/portal/who-looked/")
    event = AuditEvent.objects.filter(actor=world.users["patient"], action="read").latest("seq")
    assert (event.patient, event.object_type) == (world.p1, "access-log")


def test_the_navigation_is_short_for_a_phone(world):
    response, _text = page(world)
    assert [label for _name, label in response.context["nav"]] == [
        "My recovery", "Check-ups", "My plan"]


# --- plain words, queries ----------------------------------------------------------------


def full_history(world, goals=2, actions=2, people=1, checkups=2, proposals=1, sorts=1):
    practitioner = world.users["practitioner"]
    found = CarePlan.objects.filter(patient=world.p1).first() or plan(world)
    if not found.versions.exists():
        PlanVersion.objects.create(plan=found, number=1, snapshot={}, created_by=practitioner)
    made = [goal(world, f"Goal {n}", n) for n in range(goals)]
    review(world, found, 20, [(g, n % 5 - 2) for n, g in enumerate(made)])
    for n in range(actions):
        action(world, found, f"Step {n}")
    for n in range(proposals):
        PlanProposal.objects.create(plan=found, text=f"Change {n}",
                                    created_by=world.users["patient"])
    for _ in range(sorts):
        SortSession.objects.create(organisation=world.org, patient=world.p1,
                                   started_by=practitioner)
    for n in range(checkups):
        complete(world.p1, "phq9", {str(i): (n % 3) for i in range(1, 10)}, 80 - n)
    for n in range(people):
        user = make_user(world.org, f"looker{n}_{AuditEvent.objects.count()}", "practitioner",
                         world.team_a)
        world.p1.care_team.members.create(organisation=world.org, user=user, role="keyworker",
                                          start_date=TODAY)
        world.client("practitioner").get(f"/patients/{world.p1.pk}/goals/")
    return found


def test_every_word_on_the_home_and_the_list_is_for_a_patient(world):
    full_history(world)
    complete(world.p1, "gad7", {str(i): 1 for i in range(1, 8)}, 5)
    world.client("team_lead").get("/patients/")
    for path in ("/portal/", "/portal/who-looked/"):
        words = visible(page(world, path)[1])
        found = NOT_FOR_PATIENTS.search(words)
        assert found is None, f"{path}: {found.group(0)!r}"
        for jargon in ("reliabl", "T-score", "GAS", "−2", "+2", "lifecycle", "accepted",
                       "not-started", "in-progress", "housing-support", "access-log"):
            assert jargon not in words, (path, jargon)


def test_the_plain_words_walk_covers_the_home_and_the_list_for_a_demo_patient(patient_client):  # noqa: F811
    pages = walk(patient_client, limit=40)
    assert {"/portal/", "/portal/who-looked/", "/portal/goals/", "/portal/priorities/",
            "/portal/progress/"} <= set(pages)
    home_words = visible(pages["/portal/"])
    assert "My next check-up" in home_words and "How I am doing" in home_words
    for path in ("/portal/", "/portal/who-looked/"):
        words = visible(pages[path])
        assert NOT_FOR_PATIENTS.search(words) is None, path
        assert "reliabl" not in words and "access-log" not in words, path


def count_queries(world):
    client = world.client("patient")
    client.get("/portal/")  # the session's once-a-minute write, out of the way
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/portal/")
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_the_home_takes_the_same_number_of_queries_however_much_there_is(world):
    full_history(world)
    small, _response = count_queries(world)
    full_history(world, goals=12, actions=15, people=6, checkups=10, proposals=5, sorts=4)
    large, response = count_queries(world)
    assert len(response.context["goals"]) == 14 and len(response.context["plan"].actions) == 17
    assert response.context["people_lately"] >= 1
    assert small == large, (small, large)
    assert large <= 32, large


# --- the feedback report before the plan's review ------------------------------------------


def test_before_the_review_the_feedback_report_is_waiting_until_it_is_shared(world):
    from tandem.feedback.models import FeedbackReport

    found = plan(world, review_in_days=10, status="active")
    box = html.unescape(section(page(world)[1], "waiting-h"))
    review_day = found.review_date
    assert (f"Your plan's review is on {review_day.day} {review_day:%B}. Look over your "
            "feedback report") in box
    assert f'<a href="{reverse("portal:feedback")}">My feedback report</a>' in box
    FeedbackReport.objects.create(organisation=world.org, patient=world.p1,
                                  updated_by=world.users["patient"], parts=["answers"],
                                  shared_at=timezone.now(), snapshot={"parts": ["answers"]})
    assert "Look over your feedback report" not in page(world)[1]


def test_no_feedback_reminder_while_the_review_is_weeks_away_or_without_a_plan(world):
    assert "Look over your feedback report" not in page(world)[1]
    plan(world, review_in_days=40, status="active")
    assert "Look over your feedback report" not in page(world)[1]


def test_a_review_date_passed_still_asks_for_the_report(world):
    plan(world, review_in_days=-3, status="active")
    assert "Your plan's review was due on" in html.unescape(section(page(world)[1], "waiting-h"))
