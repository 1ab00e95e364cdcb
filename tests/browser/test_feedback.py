"""The feedback report in Chromium: on a phone the patient leaves a part out, writes to their
keyworker and shares it; the practitioner sees it in the review beside the patient's words.
Zero axe violations on every page, on a phone and on a desktop."""

import pytest

from tests.conftest import PASSWORD
from tests.test_feedback import history

pytestmark = pytest.mark.browser

WORDS = "I have been sleeping better. Can we talk about moving to fortnightly sessions?"


def test_the_patient_shapes_and_shares_the_report_and_the_keyworker_sees_it_in_the_review(
        live_world, visit):
    history(live_world)
    p1 = live_world.p1
    patient = visit(viewport=(390, 844))
    patient.sign_in("patient", PASSWORD)
    patient.go("/portal/feedback/")
    page = patient.page
    assert page.get_by_role("heading", name="My use, week by week").is_visible()
    assert page.get_by_text("Not shared with your care team.").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    patient.axe()
    patient.screenshot("feedback-phone")
    page.get_by_role("checkbox", name="My use, week by week").uncheck()
    page.fill("#id_own_words", WORDS)
    assert page.get_by_text(f"{len(WORDS)} of 1,000 characters used").is_visible()
    page.get_by_role("button", name="Save and share with my care team").click()
    assert page.get_by_text("Shared: your care team can see this report").is_visible()
    assert page.get_by_role("heading", name="My use, week by week").count() == 0
    assert page.locator(".fb-words").inner_text() == WORDS
    patient.axe()
    patient.screenshot("feedback-phone-shared")

    desktop = visit()
    desktop.sign_in("patient", PASSWORD)
    desktop.go("/portal/feedback/")
    desktop.axe()

    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    staff.go(f"/patients/{p1.pk}/plan/review/")
    panel = staff.page.locator(".fb-panel")
    assert panel.get_by_role("heading", name=f"In {p1.name}'s own words").is_visible()
    assert panel.locator(".fb-words").inner_text() == WORDS
    assert panel.get_by_role("heading", name="What my answers say").is_visible()
    assert panel.get_by_role("heading", name="My use, week by week").count() == 0
    staff.axe()
    staff.screenshot("feedback-in-review")
    staff.go(f"/patients/{p1.pk}/feedback/")
    assert staff.page.get_by_text(WORDS).is_visible()
    staff.axe()
    phone_staff = visit(viewport=(390, 844))
    phone_staff.sign_in("practitioner", PASSWORD)
    phone_staff.go(f"/patients/{p1.pk}/plan/review/")
    phone_staff.axe()
