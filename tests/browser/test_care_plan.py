"""The recovery plan in Chromium: built from goals and actions, signed by both, a change
proposed by the patient, a new version with its differences; zero axe violations."""

import datetime

import pytest

from tests.conftest import PASSWORD
from tests.test_goals import goal_data

pytestmark = pytest.mark.browser


def test_plan_signed_by_both_then_changed_on_the_patients_proposal(live_world, visit):
    p1 = live_world.p1
    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    live_world.client("practitioner").post(f"/patients/{p1.pk}/goals/new/", goal_data())
    staff.go(f"/patients/{p1.pk}/plan/")
    staff.page.get_by_role("link", name="Start the recovery plan").click()
    staff.page.get_by_role("button", name="Save").click()
    staff.page.get_by_role("link", name="Add an action").click()
    staff.page.select_option("#id_intervention", "mutual-aid")
    staff.page.fill("#id_description", "SMART Recovery meeting on Thursdays")
    staff.page.fill("#id_frequency", "weekly")
    staff.page.get_by_role("button", name="Save the action").click()
    staff.page.get_by_role("button", name="Sign version 1 as practitioner").click()
    assert staff.page.get_by_text("You signed this version of the plan.").is_visible()
    staff.axe()

    patient = visit(viewport=(390, 844))
    patient.sign_in("patient", PASSWORD)
    patient.go("/portal/plan/")
    assert patient.page.get_by_text("SMART Recovery meeting on Thursdays").is_visible()
    patient.axe()
    patient.page.get_by_role("button", name="I agree: sign my plan").click()
    patient.page.fill("#id_text", "Could the meeting be on Tuesdays instead?")
    patient.page.get_by_role("button", name="Send to my keyworker").click()
    assert patient.page.get_by_text("Sent to your keyworker.").is_visible()
    patient.axe()
    patient.screenshot("plan-portal-phone")

    staff.page.reload()
    assert staff.page.get_by_text("Version 1: signed by both").is_visible()
    staff.page.get_by_label("Accept: I will change the plan").check()
    staff.page.fill("#id_response", "Yes, moving it to Tuesdays.")
    staff.page.get_by_role("button", name="Send the answer").click()
    staff.page.get_by_role("link", name="Change SMART Recovery meeting on Thursdays").click()
    staff.page.fill("#id_description", "SMART Recovery meeting on Tuesdays")
    staff.page.get_by_role("button", name="Save the action").click()
    assert staff.page.get_by_text("Version 2: waiting for signatures").is_visible()
    staff.page.get_by_role("button", name="Show what changed").click()
    assert staff.page.locator("del").first.inner_text().endswith(
        "SMART Recovery meeting on Thursdays, weekly; from "
        f"{datetime.date.today().day} {datetime.date.today():%B %Y}; not started")
    assert "Tuesdays" in staff.page.locator("ins").first.inner_text()
    staff.axe()
    staff.screenshot("plan-difference")
    # A review rates the goal, both views, and sets the next review.
    staff.page.get_by_role("link", name="Back to the plan").click()
    staff.page.get_by_role("link", name="Hold a review").click()
    staff.axe()
    staff.page.get_by_label("+1: Under 10 units a week").first.check()
    staff.page.get_by_label("0: No more than 14 units a week").nth(1).check()
    staff.page.get_by_role("button", name="Save the review").click()
    assert staff.page.get_by_text("Review saved.").is_visible()
    assert staff.page.locator("strong", has_text="60.0").is_visible()  # patient: +1 alone
    staff.axe()
