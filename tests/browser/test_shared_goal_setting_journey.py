"""Issue 4's whole journey in Chromium: the practitioner and the patient sort independently
(the practitioner by keyboard alone), compare, agree three goals including a controlled-drinking
goal, build the plan, both sign, the patient proposes a change, a review rates the goals and
revises the plan; screenshots and zero axe-core violations throughout."""

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

CARDS = ("drug_use", "alcohol_use", "physical_health", "mental_health", "distress", "housing",
         "eating", "relationships", "social_life", "daytime", "money", "offending", "family")
LEVELS = ("Much worse", "A bit worse", "As expected", "A bit better", "Much better")


def keyboard_sort(tab, now):
    page, tab_to = tab.page, tab.tab_to
    for code in CARDS:
        tab_to(f"id_pile_{code}_0")
        if code in now:
            page.keyboard.press("Space")
            tab_to(f"id_rank_{code}")
            for _ in range(now.index(code) + 1):
                page.keyboard.press("ArrowDown")
        else:
            page.keyboard.press("Space")
            page.keyboard.press("ArrowDown")  # Later
    page.get_by_role("button", name="Submit this sort").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/priorities/*/")


def agree_goal(tab, card, statement, kind=None):
    tab.page.get_by_role("link", name=f"Agree a goal for {card}").click()
    tab.page.fill("#id_statement", statement)
    for level, text in zip(("minus2", "minus1", "0", "plus1", "plus2"), LEVELS, strict=True):
        tab.page.fill(f"#id_gas_{level}", f"{text}: {statement.lower()}")
    if kind:
        tab.page.select_option("#id_goal_type", kind)
        tab.page.select_option("#id_goal_type_chosen_by", "patient")
    tab.axe()
    tab.page.get_by_role("button", name="Save the goal").click()
    assert tab.page.get_by_text("Goal saved.").is_visible()
    tab.page.go_back()
    tab.page.go_back()


def test_the_whole_shared_goal_setting_journey(live_world, visit):
    from tandem.planning.models import CarePlan, Goal, Review

    p1 = live_world.p1
    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    staff.go(f"/patients/{p1.pk}/priorities/")
    staff.page.get_by_role("button", name="Start a priority sort").click()
    session_url = staff.page.url
    staff.page.get_by_role("link", name="Sort the cards").click()
    keyboard_sort(staff, now=["alcohol_use", "housing", "mental_health"])

    patient = visit(viewport=(390, 844))
    patient.sign_in("patient", PASSWORD)
    patient.go("/portal/priorities/")
    patient.page.get_by_role("link", name="Sort the cards").click()
    for code in CARDS:
        pile = 0 if code in ("housing", "alcohol_use", "family") else 1
        patient.page.locator(f"#id_pile_{code}_{pile}").check()
    for rank, code in enumerate(("housing", "alcohol_use", "family"), start=1):
        patient.page.locator(f"#id_rank_{code}").select_option(str(rank))
    patient.page.get_by_role("button", name="Submit my sort").click()
    patient.page.get_by_role("link", name="See how our sorts compare").click()
    patient.axe()

    staff.go(session_url.replace(staff.base, ""))
    assert staff.page.get_by_role("heading", name="How the two sorts compare").is_visible()
    staff.axe()
    staff.screenshot("journey-1-comparison")
    agree_goal(staff, "alcohol use", "Drink no more than two pints, and only at weekends",
               kind="controlled")
    agree_goal(staff, "housing", "Get a flat of my own")
    agree_goal(staff, "family", "See my kids every weekend")
    goals = list(Goal.objects.order_by("created_at"))
    assert len(goals) == 3 and goals[0].goal_type == "controlled"

    staff.go(f"/patients/{p1.pk}/plan/")
    staff.page.get_by_role("link", name="Start the recovery plan").click()
    staff.page.get_by_role("button", name="Save").click()
    staff.page.get_by_role("link", name="Add an action").click()
    staff.page.select_option("#id_intervention", "housing-support")
    staff.page.fill("#id_description", "Referral to City Housing Options")
    staff.page.get_by_role("button", name="Save the action").click()
    staff.page.get_by_role("button", name="Sign version 1 as practitioner").click()
    staff.axe()
    staff.screenshot("journey-2-plan")

    patient.go("/portal/plan/")
    patient.page.get_by_role("button", name="I agree: sign my plan").click()
    patient.page.fill("#id_text", "Please add help with money: I'm behind on rent.")
    patient.page.get_by_role("button", name="Send to my keyworker").click()
    patient.axe()
    patient.screenshot("journey-3-portal-plan")
    plan = CarePlan.objects.get()
    assert plan.versions.get(number=1).fully_signed

    staff.page.reload()
    staff.page.get_by_label("Accept: I will change the plan").check()
    staff.page.get_by_role("button", name="Send the answer").click()
    staff.page.get_by_role("link", name="Hold a review").click()
    for n, _goal in enumerate(goals):
        staff.page.locator(f"#id_patient_{goals[n].pk}_{2 - (n % 2)}").check()
        staff.page.locator(f"#id_practitioner_{goals[n].pk}_3").check()
    staff.axe()
    staff.page.get_by_role("button", name="Save the review").click()
    assert staff.page.get_by_text("Review saved.").is_visible()
    review = Review.objects.get()
    assert review.t_score_patient is not None and review.t_score_practitioner == 50.0
    # The review revises the plan: a new action for money, answering the patient's proposal.
    staff.page.get_by_role("link", name="add an action").click()
    staff.page.select_option("#id_intervention", "employment-support")
    staff.page.fill("#id_description", "Money advice with Citizens Advice")
    staff.page.get_by_role("button", name="Save the action").click()
    assert staff.page.get_by_text("waiting for signatures").is_visible()
    assert plan.versions.count() == 2
    staff.axe()
    staff.screenshot("journey-4-revised-plan")
