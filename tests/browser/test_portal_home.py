""""My recovery" in Chromium, on a phone (390 × 844) and on a desktop: the next check-up's button
is in view without scrolling on the phone, nothing is wider than the screen, the list of who
looked at my record is one link away, and both pages pass axe-core with zero violations."""

import pytest

from tests.conftest import PASSWORD
from tests.test_checkups import complete
from tests.test_portal_home import action, goal, plan, review

pytestmark = pytest.mark.browser

PHONE = (390, 844)


def a_history(world):
    """Goals rated at a review, a plan with next steps, two check-ups, and a keyworker's look."""
    flat, work = goal(world, "Get my own flat", 1), goal(world, "Find some work", 2)
    found = plan(world)
    action(world, found, "See the housing officer")
    review(world, found, 20, [(flat, 1), (work, -1)])
    complete(world.p1, "phq9", {str(i): 2 for i in range(1, 10)}, 150)
    complete(world.p1, "phq9", {str(i): 1 for i in range(1, 10)}, 60)
    world.client("practitioner").get(f"/patients/{world.p1.pk}/plan/")


def start_button(tab):
    return tab.page.locator(".home-checkup .home-go")


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "phone"), ((1280, 900), "desktop")])
def test_my_recovery_on_a_phone_and_a_desktop(live_world, visit, viewport, name):
    a_history(live_world)
    tab = visit(viewport=viewport)
    tab.sign_in("patient", PASSWORD)
    assert tab.page.url.endswith("/portal/")
    assert tab.page.locator("h1").first.inner_text() == "My recovery"
    button = start_button(tab)
    assert button.count() == 1 and button.inner_text() == "Start my check-up"
    box = button.bounding_box()
    assert box is not None and box["y"] + box["height"] <= viewport[1], box  # no scrolling
    assert tab.page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
    assert tab.page.get_by_text("Get my own flat").is_visible()
    assert tab.page.get_by_text("See the housing officer").is_visible()
    assert tab.page.locator(".home-chart svg").count() == 1
    assert tab.page.get_by_text("a real improvement", exact=True).is_visible()
    assert tab.page.get_by_text("1 person looked at your record in the last 30 days.").is_visible()
    tab.axe()
    tab.screenshot(f"portal-home-{name}")

    tab.page.get_by_role("link", name="See who, on which day, and what they looked at").click()
    assert tab.page.url.endswith("/portal/who-looked/")
    assert tab.page.locator("h1").first.inner_text() == "Who has looked at my record"
    assert tab.page.get_by_text("Practitioner Tester (keyworker)").is_visible()
    assert tab.page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
    tab.axe()
    tab.screenshot(f"portal-who-looked-{name}")


def test_a_new_patient_on_a_phone(live_world, visit):
    tab = visit(viewport=PHONE)
    tab.sign_in("patient", PASSWORD)
    assert tab.page.get_by_text("You have no goals written down yet").is_visible()
    assert tab.page.get_by_text("You have no recovery plan yet").is_visible()
    box = start_button(tab).bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE[1]
    tab.axe()
    tab.screenshot("portal-home-new-patient-phone")
