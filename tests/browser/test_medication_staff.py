"""The prescriber's medication pages in Chromium: a methadone plan started with a range and
self-setting, the dose history as a chart and a table, a medication review held, a reduction
planned, paused and resumed; the dose-change sheet and the service's settings. Zero axe
violations on every page, on a desktop and (the medication page) on a phone."""

import datetime

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_the_prescriber_starts_a_plan_holds_a_review_and_plans_a_reduction(live_world, visit):
    p1 = live_world.p1
    today = datetime.date.today()
    staff = visit()
    page = staff.page
    staff.sign_in("prescriber", PASSWORD)
    staff.go(f"/patients/{p1.pk}/")
    page.get_by_role("link", name="Medication", exact=True).click()
    assert page.get_by_text("Tandem is not a prescribing system").first.is_visible()
    staff.axe()

    page.get_by_role("link", name="Start a medication plan").click()
    staff.axe()
    page.get_by_label("Methadone oral solution 1 mg/ml").check()
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_text("A first dose or a restart is at most 30 mg a day.").is_visible()
    page.get_by_text("Where this comes from").first.click()
    assert page.get_by_text("RCGP substitute prescribing guidance").first.is_visible()
    staff.axe()
    staff.screenshot("medication-plan-form")
    page.fill("#id_dose", "30")
    page.fill("#id_low", "20")
    page.fill("#id_high", "80")
    page.fill("#id_pharmacy", "Riverside Pharmacy")
    page.get_by_label("The patient may set their own dose within these limits").check()
    page.fill("#id_reason", "Starting treatment, agreed with the patient")
    page.get_by_role("button", name="Start the plan").click()
    assert page.get_by_text("The medication plan is started").is_visible()
    assert page.locator("svg.chart-dose").is_visible()
    table = page.get_by_role("region", name="Dose history table")
    assert table.get_by_text("Starting treatment, agreed with the patient").is_visible()
    assert page.get_by_text("20 to 80 mg a day").is_visible()
    staff.axe()

    page.get_by_role("link", name="Hold a medication review").click()
    staff.axe()
    page.get_by_label("About right").check()
    page.fill("#id_patient_view", "Settled. I want to stay on this dose for now.")
    page.get_by_label("Stay stable on this dose").check()
    page.get_by_label("The patient", exact=True).check()
    next_review = today + datetime.timedelta(days=56)
    page.fill("#id_next_review", next_review.isoformat())
    page.get_by_role("button", name="Record the review").click()
    assert page.get_by_text("The medication review is recorded.").is_visible()
    assert page.get_by_text("Settled. I want to stay on this dose for now.").is_visible()
    staff.axe()

    page.get_by_role("link", name="Plan a reduction the patient chose").click()
    staff.axe()
    page.fill("#id_step", "5")
    page.fill("#id_every_days", "7")
    page.fill("#id_target", "20")
    page.get_by_role("button", name="Show the steps").click()
    assert page.get_by_role("heading", name="The steps Tandem would draw (not saved yet)"
                            ).is_visible()
    staff.axe()
    page.get_by_role("button", name="Save the reduction").click()
    assert page.get_by_text("The reduction is planned").is_visible()
    assert page.get_by_role("table", name="Steps to come").is_visible()
    assert page.locator("polyline.dose-planned").count() == 1
    staff.axe()
    staff.screenshot("medication-reduction")
    page.get_by_role("button", name="Pause the reduction").click()
    assert page.get_by_text("The reduction is paused").first.is_visible()
    staff.axe()
    page.get_by_role("button", name="Resume the reduction").click()
    assert page.get_by_text("The reduction goes ahead again").is_visible()
    staff.axe()

    page.get_by_role("link", name="Dose-change sheet").first.click()
    assert page.get_by_text("It is not a prescription.").first.is_visible()
    assert page.get_by_text(p1.service_id).first.is_visible()
    staff.axe()

    phone = visit(viewport=(390, 844))
    phone.sign_in("prescriber", PASSWORD)
    phone.go(f"/patients/{p1.pk}/medication/")
    phone.axe()
    phone.screenshot("medication-phone")


def test_the_service_admin_tightens_the_medication_settings(live_world, visit):
    admin = visit()
    admin.sign_in("service_admin", PASSWORD)
    admin.go("/manage/medication/")
    admin.axe()
    admin.page.fill("#id_missed_days_for_flag", "4")
    admin.page.get_by_role("button", name="Save the settings").click()
    assert admin.page.get_by_role("alert").get_by_text("Enter 1, 2 or 3").is_visible()
    admin.axe()
    admin.page.fill("#id_missed_days_for_flag", "2")
    admin.page.get_by_role("button", name="Save the settings").click()
    assert admin.page.get_by_text("Medication settings saved.").is_visible()
