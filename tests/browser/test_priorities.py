"""Shared goal-setting in Chromium: the practitioner sorts the cards by keyboard alone, the
patient sorts on a phone in the portal, and both see the comparison; zero axe violations."""

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_both_sort_independently_then_compare(live_world, visit):
    from tandem.planning.models import PrioritySort

    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    staff.go(f"/patients/{live_world.p1.pk}/priorities/")
    staff.axe()
    staff.page.get_by_role("button", name="Start a priority sort").click()
    staff.axe()
    staff.page.get_by_role("link", name="Sort the cards").click()
    staff.axe()
    # Keyboard only: reach each control with Tab, choose with Space and the arrow keys.
    page, tab_to = staff.page, staff.tab_to

    tab_to("id_pile_drug_use_0")
    page.keyboard.press("Space")  # Work on this now
    tab_to("id_rank_drug_use")
    page.keyboard.press("ArrowDown")  # rank 1
    tab_to("id_pile_alcohol_use_0")
    page.keyboard.press("Space")
    tab_to("id_rank_alcohol_use")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # rank 2
    for code in ("physical_health", "mental_health", "distress", "housing", "eating",
                 "relationships", "social_life", "daytime", "money", "offending", "family"):
        tab_to(f"id_pile_{code}_0")
        page.keyboard.press("Space")
        page.keyboard.press("ArrowDown")  # Later
    tab_to("id_pile_family_1")
    page.keyboard.press("ArrowDown")  # Not for me / fine as it is
    page.get_by_role("button", name="Submit this sort").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/priorities/*/")
    assert page.get_by_text("Sort submitted.").is_visible()
    mine = PrioritySort.objects.get(voice="practitioner")
    assert mine.piles() == {"now": ["drug_use", "alcohol_use"],
                            "later": ["physical_health", "mental_health", "distress", "housing",
                                      "eating", "relationships", "social_life", "daytime",
                                      "money", "offending"],
                            "not": ["family"]}

    patient = visit(viewport=(390, 844))
    patient.sign_in("patient", PASSWORD)
    patient.go("/portal/priorities/")
    patient.axe()
    patient.page.get_by_role("link", name="Sort the cards").click()
    assert patient.page.get_by_role("heading", name="What matters to you now?").is_visible()
    patient.axe()
    for code in ("drug_use", "alcohol_use", "physical_health", "mental_health", "distress",
                 "housing", "eating", "relationships", "social_life", "daytime", "money",
                 "offending", "family"):
        pile = {"housing": 0, "alcohol_use": 0, "offending": 2}.get(code, 1)
        patient.page.locator(f"#id_pile_{code}_{pile}").check()
    patient.page.locator("#id_rank_housing").select_option("1")
    patient.page.locator("#id_rank_alcohol_use").select_option("2")
    patient.page.locator("#id_help_housing").check()
    patient.page.fill("#id_note_housing", "Sofa-surfing at my sister's")
    patient.screenshot("priorities-phone-sort")
    patient.page.get_by_role("button", name="Submit my sort").click()
    assert patient.page.get_by_text("your priorities are sent").is_visible()
    patient.page.get_by_role("link", name="See how our sorts compare").click()
    assert patient.page.get_by_role("heading", name="How the two sorts compare").is_visible()
    patient.axe()

    staff.page.reload()
    assert page.get_by_role("heading", name="Where the sorts differ, largest first").is_visible()
    assert page.get_by_text("Sofa-surfing at my sister's").is_visible()
    page.fill("#id_discussion", "Housing first; alcohol next, with the patient's GP.")
    page.get_by_role("button", name="Save the discussion").click()
    assert page.get_by_text("Discussion saved.").is_visible()
    staff.axe()
    staff.screenshot("priorities-comparison")


def test_cards_can_be_dragged_between_piles(live_world, browser, live_server):
    from tandem.planning.models import PrioritySort, SortSession

    session = SortSession.objects.create(organisation=live_world.org, patient=live_world.p1,
                                         started_by=live_world.users["practitioner"])
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # CSP enforced
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "patient")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.goto(f"{live_server.url}/portal/priorities/{session.pk}/")
    now, not_for_me = page.locator("ol[data-pile=now]"), page.locator("ol[data-pile=not]")
    page.locator(".sort-waiting .sort-chip[data-code=mental_health]").drag_to(now)
    assert page.locator("#id_pile_mental_health_0").is_checked()
    assert page.locator("#id_rank_mental_health").input_value() == "1"
    page.locator(".sort-chip[data-code=housing]").drag_to(
        page.locator(".sort-chip[data-code=mental_health]"), target_position={"x": 5, "y": 2})
    assert page.locator("#id_rank_housing").input_value() == "1"  # dropped above: first
    assert page.locator("#id_rank_mental_health").input_value() == "2"
    page.locator("#id_pile_family_1").check()  # the form and the board stay in step
    assert page.locator("ol[data-pile=later] .sort-chip[data-code=family]").count() == 1
    page.locator(".sort-chip[data-code=family]").drag_to(not_for_me)
    assert page.locator("#id_pile_family_2").is_checked()
    page.screenshot(path=str(ARTIFACTS / "priorities-drag-and-drop.png"))
    page.get_by_role("button", name="Save and finish later").click()
    saved = PrioritySort.objects.get()
    assert saved.piles()["now"] == ["housing", "mental_health"]
    assert saved.piles()["not"] == ["family"]
    assert [e for e in errors if "Content Security Policy" in e] == []
    context.close()


def test_concurrent_goal_edits_show_what_changed_and_lose_nothing(live_world, visit):
    from tests.test_goals import goal_data

    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    live_world.client("practitioner").post(f"/patients/{live_world.p1.pk}/goals/new/",
                                           goal_data())
    from tandem.planning.models import Goal

    goal = Goal.objects.get()
    staff.go(f"/patients/{live_world.p1.pk}/goals/{goal.pk}/")
    staff.axe()
    staff.page.fill("#id_statement", "A pint on Saturdays, none in the week")
    # Meanwhile the team lead saves a change to the same goal.
    live_world.client("team_lead").post(f"/patients/{live_world.p1.pk}/goals/{goal.pk}/",
                                        goal_data(version="1", gas_0="Under 10 units a week"))
    staff.page.get_by_role("button", name="Save the goal").click()
    assert staff.page.get_by_text("Team_Lead Tester changed this at").is_visible()
    assert staff.page.input_value("#id_statement") == "A pint on Saturdays, none in the week"
    staff.axe()
    staff.screenshot("goal-conflict")
    staff.page.get_by_role("button", name="Save the goal").click()
    assert staff.page.get_by_text("Goal saved.").is_visible()
    goal.refresh_from_db()
    assert goal.statement == "A pint on Saturdays, none in the week" and goal.version == 3
