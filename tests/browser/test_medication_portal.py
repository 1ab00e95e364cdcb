"""My medication in Chromium on a phone (390 × 844): the patient asks for a dose outside the range
(refused, the reason on the dose field, what was typed kept) and one inside it (applied at once,
or waiting for the prescriber and withdrawn); a reduction's chart and its pause; the keyworker's
page on the patient's behalf. Nothing wider than the screen, large touch targets, and zero axe
violations on every page."""

import pytest

from tests.conftest import PASSWORD
from tests.test_medication_portal import a_plan, a_reduction, complete, day

pytestmark = pytest.mark.browser

PHONE = (390, 844)
TOP = {f"{s}_w{w}": 0 for s in ("alcohol", "opioids", "crack", "cocaine", "amphetamines",
                                "cannabis", "other", "tobacco", "inject") for w in (1, 2, 3, 4)}


def on_a_phone(visit):
    tab = visit(viewport=PHONE)
    tab.sign_in("patient", PASSWORD)
    return tab


def fits(tab):
    assert tab.page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]


def big_enough(locator):
    box = locator.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44, box


def test_the_patient_asks_outside_the_range_then_inside_it_on_a_phone(live_world, visit):
    a_plan(live_world, at_once=True)
    tab = on_a_phone(visit)
    page = tab.page
    page.locator("summary.menu-button").click()
    page.locator(".menu-panel").get_by_role("link", name="My medication").click()
    assert page.url.endswith("/portal/medication/")
    assert page.get_by_role("heading", name="My medication", level=1).is_visible()
    assert page.get_by_text("between 20 mg and 90 mg a day").is_visible()
    assert page.get_by_text("Today you can ask for a dose from 20 mg to 40 mg.").is_visible()
    fits(tab)
    big_enough(page.get_by_label("New daily dose (mg)"))
    big_enough(page.get_by_role("button", name="Ask for this dose"))
    tab.axe()
    tab.screenshot("medication-phone")

    page.get_by_label("New daily dose (mg)").fill("100")
    page.get_by_role("button", name="Ask for this dose").click()
    reason = "100 mg is more than the highest dose agreed with the prescriber (90 mg)."
    assert page.locator("#id_dose_error").get_by_text(reason).is_visible()
    assert page.get_by_role("alert").get_by_text(reason).is_visible()
    assert page.get_by_label("New daily dose (mg)").input_value() == "100"
    assert page.get_by_label("New daily dose (mg)").get_attribute("aria-invalid") == "true"
    fits(tab)
    tab.axe()
    tab.screenshot("medication-phone-refused")

    page.get_by_label("New daily dose (mg)").fill("35")
    page.get_by_role("button", name="Ask for this dose").click()
    assert page.get_by_text("Your dose is now 35 mg from today. Your pharmacy will be "
                            "told.").is_visible()
    assert page.get_by_text("Today: 35 mg a day").is_visible()
    fits(tab)
    tab.axe()
    tab.screenshot("medication-phone-applied")


def test_a_request_waits_for_the_prescriber_and_can_be_withdrawn(live_world, visit):
    a_plan(live_world)
    tab = on_a_phone(visit)
    tab.go("/portal/medication/")
    page = tab.page
    page.get_by_label("New daily dose (mg)").fill("25")
    page.get_by_label("Anything your prescriber should know").fill("I feel too sleepy.")
    page.get_by_role("button", name="Ask for this dose").click()
    assert page.get_by_text("You asked for 25 mg from today. Your prescriber will look at "
                            "this.").first.is_visible()
    withdraw = page.get_by_role("button", name="Withdraw")
    big_enough(withdraw)
    fits(tab)
    tab.axe()
    tab.screenshot("medication-phone-waiting")
    withdraw.click()
    assert page.get_by_text("You withdrew your request for 25 mg.").is_visible()
    assert page.get_by_label("New daily dose (mg)").is_visible()
    tab.axe()


def test_a_reduction_on_a_phone_and_pausing_it(live_world, visit):
    plan = a_plan(live_world)
    a_reduction(live_world, plan)
    complete(live_world.p1, "top", TOP | {"opioids_w1": 2}, 12)
    tab = on_a_phone(visit)
    tab.go("/portal/medication/")
    page = tab.page
    assert page.get_by_text("Going down 5 mg every 14 days, aiming for 20 mg.").is_visible()
    assert page.locator(".med-chart svg").is_visible()
    page.get_by_text("The same as tables").click()
    assert page.get_by_role("cell", name="to come").first.is_visible()
    fits(tab)
    tab.axe()
    tab.screenshot("medication-phone-reduction")
    pause = page.get_by_role("button", name="Pause my reduction")
    big_enough(pause)
    pause.click()
    assert page.get_by_text("Your reduction is paused. You stay at 25 mg a day for now."
                            ).is_visible()
    assert page.get_by_role("button", name="Pause my reduction").count() == 0
    tab.axe()


def test_the_keyworker_asks_on_the_patients_behalf(live_world, visit):
    a_plan(live_world, started=-1)
    for viewport in ((1280, 900), PHONE):
        tab = visit(viewport=viewport)
        tab.sign_in("practitioner", PASSWORD)
        tab.go(f"/patients/{live_world.p1.pk}/medication/request/")
        page = tab.page
        assert page.get_by_text(f"The next change can be from {day(2).day}").first.is_visible()
        tab.axe()
    page.get_by_label("New daily dose (mg)").fill("35")
    page.get_by_label("From which day").fill(day(0).isoformat())
    page.get_by_role("button", name="Ask for this dose").click()
    assert page.locator("#id_dose_error").get_by_text("The next change can be from").is_visible()
    tab.axe()
    tab.screenshot("medication-on-behalf-phone-refused")
