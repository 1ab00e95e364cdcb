"""The corrected patient and staff pages of the clinical safety issue, in Chromium with zero
axe-core violations: a safety question the patient would rather not answer, the page after a
safety answer, the flag the care team sees, the safety rules that cannot be lowered, and
AUDIT-C results when sex is not recorded."""

import pytest

from tandem.assessment.models import CheckupSettings
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

PHONE = (390, 844)


def phq9_to_question_9(tab, organisation, first_eight=0):
    """Into the patient's check-up, the service's being the PHQ-9 alone, to its question 9."""
    CheckupSettings.objects.update_or_create(organisation=organisation,
                                             defaults={"instruments": ["phq9"]})
    tab.go("/portal/")
    tab.page.get_by_role("button", name="Start my check-up").click()
    for _ in range(8):
        tab.page.locator("form.question input[type=radio]").nth(first_eight).check()
        tab.page.locator("button[value=next]").click()
    assert tab.page.locator(".progress-label").inner_text().startswith("Question 9 ")


def test_a_patient_would_rather_not_answer_the_safety_question(live_world, visit):
    from tandem.monitoring.models import Flag

    tab = visit(viewport=PHONE)
    tab.sign_in("patient", PASSWORD)
    phq9_to_question_9(tab, live_world.org)
    tab.page.get_by_label("I'd rather not say").check()
    tab.axe()
    tab.page.locator("button[value=next]").click()
    assert "/answers/" in tab.page.url
    assert tab.page.get_by_text("I'd rather not say").is_visible()
    tab.page.get_by_role("button", name="Send my answers").click()
    assert tab.page.get_by_text("You chose not to answer one of the questions").is_visible()
    assert tab.page.get_by_text("Your score").count() == 0
    tab.axe()
    tab.screenshot("checkup-declined-safety-question")
    flag = Flag.objects.get(patient=live_world.p1, rule="safety-unanswered")
    assert flag.severity == "high"
    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    staff.go(f"/patients/{live_world.p1.pk}/")
    assert staff.page.get_by_text("safety question not answered").first.is_visible()
    staff.axe()


def test_after_a_safety_answer_the_last_page_says_only_that_help_is_there(live_world, visit):
    tab = visit(viewport=PHONE)
    tab.sign_in("patient", PASSWORD)
    phq9_to_question_9(tab, live_world.org)
    tab.page.get_by_label("Several days").check()
    tab.page.locator("button[value=next]").click()
    assert tab.page.get_by_role("heading", name="Thank you for telling us").is_visible()
    tab.page.get_by_role("link", name="Carry on with the check-up").click()
    tab.page.get_by_role("button", name="Send my answers").click()
    assert tab.page.get_by_role("heading", name="Help is available now").is_visible()
    body = tab.page.locator("main").inner_text()
    assert "Your score" not in body and "next meeting" not in body
    tab.axe()
    tab.screenshot("checkup-done-after-safety-answer")


def test_the_safety_rules_cannot_be_lowered_on_the_rules_page(live_world, visit):
    tab = visit()
    tab.sign_in("service_admin", PASSWORD)
    tab.go("/manage/checkups/early-warning/")
    severity = tab.page.locator("select[name='safety-answer-severity']")
    assert severity.is_disabled()
    assert severity.locator("option").all_inner_texts() == ["Urgent: same day"]
    assert tab.page.get_by_text("it cannot be lowered").first.is_visible()
    tab.axe()
    tab.screenshot("early-warning-rules")


def test_audit_c_results_say_which_threshold_was_used(live_world, visit):
    from tests.test_checkups import complete

    complete(live_world.p1, "audit-c", {"1": 2, "2": 0, "3": 1}, 30)
    complete(live_world.p1, "audit-c", {"1": 3, "2": 1, "3": 1}, 0)
    tab = visit(viewport=PHONE)
    tab.sign_in("patient", PASSWORD)
    tab.go("/portal/progress/")
    assert tab.page.get_by_text("lower of two thresholds").is_visible()
    assert tab.page.get_by_text("No reliable-change figure for this questionnaire").is_visible()
    tab.axe()
    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    staff.go(f"/patients/{live_world.p1.pk}/checkups/")
    assert staff.page.get_by_text("Sex for clinical thresholds is not recorded").is_visible()
    staff.axe()
