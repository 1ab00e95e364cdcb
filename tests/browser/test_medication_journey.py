"""The substitute-medication journey of issue 15, in Chromium, end to end:

1. the prescriber sets a methadone plan with a safe range and lets the patient set their dose;
2. the patient, on a phone, asks for a dose outside the range (refused, with the reason) and one
   inside it (applied at once, as the plan says);
3. three missed days imported from the pharmacy's CSV file raise the urgent flag;
4. the prescriber holds the medication review;
5. a reduction the patient chose is planned, paused and resumed.

Zero axe violations on every page on the way."""

import datetime

import pytest

from tandem.monitoring.models import Flag
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

PHONE = (390, 844)


def test_prescriber_patient_pharmacy_review_and_reduction(live_world, visit):
    p1 = live_world.p1
    today = datetime.date.today()

    # 1. The prescriber sets the plan (started three weeks ago, as recorded on the day).
    prescriber = visit()
    page = prescriber.page
    prescriber.sign_in("prescriber", PASSWORD)
    prescriber.go(f"/patients/{p1.pk}/medication/")
    page.get_by_role("link", name="Start a medication plan").click()
    page.get_by_label("Methadone oral solution 1 mg/ml").check()
    page.get_by_role("button", name="Continue").click()
    prescriber.axe()
    page.fill("#id_dose", "30")
    page.fill("#id_started_on", (today - datetime.timedelta(days=21)).isoformat())
    page.fill("#id_low", "20")
    page.fill("#id_high", "60")
    page.fill("#id_pharmacy", "Riverside Pharmacy")
    page.get_by_label("The patient may set their own dose within these limits").check()
    page.get_by_label("applies at once").check()
    page.fill("#id_reason", "Starting treatment, agreed with Pat")
    page.get_by_role("button", name="Start the plan").click()
    assert page.get_by_text("The medication plan is started").is_visible()
    assert page.get_by_text("20 to 60 mg a day").is_visible()
    prescriber.axe()

    # 2. The patient on a phone: outside the range refused with the reason, inside applied.
    phone = visit(viewport=PHONE)
    mine = phone.page
    phone.sign_in("patient", PASSWORD)
    phone.go("/portal/medication/")
    assert mine.get_by_text("between 20 mg and 60 mg a day").is_visible()
    phone.axe()
    mine.get_by_label("New daily dose (mg)").fill("70")
    mine.get_by_role("button", name="Ask for this dose").click()
    reason = "70 mg is more than the highest dose agreed with the prescriber (60 mg)."
    assert mine.locator("#id_dose_error").get_by_text(reason).is_visible()
    phone.axe()
    mine.get_by_label("New daily dose (mg)").fill("35")
    mine.get_by_role("button", name="Ask for this dose").click()
    assert mine.get_by_text("Your dose is now 35 mg").first.is_visible()
    phone.axe()
    phone.screenshot("journey-medication-phone")

    # 3. A keyworker imports the pharmacy's file: three missed days in a row for Pat.
    keyworker = visit()
    kpage = keyworker.page
    keyworker.sign_in("practitioner", PASSWORD)
    keyworker.go("/patients/dispensing/import/")
    keyworker.axe()
    lines = ["patient,date,status"]
    lines += [f"{p1.service_id},{today - datetime.timedelta(days=n)},supervised"
              for n in (6, 5, 4)]
    lines += [f"{p1.service_id},{today - datetime.timedelta(days=n)},missed" for n in (3, 2, 1)]
    kpage.set_input_files("#id_file", files=[{
        "name": "pharmacy.csv", "mimeType": "text/csv",
        "buffer": ("\n".join(lines) + "\n").encode()}])
    kpage.get_by_role("button", name="Import").click()
    assert kpage.get_by_role("heading", name="Imported 6 days for 1 patient").is_visible()
    assert kpage.get_by_text("missed 3 or more days in a row").is_visible()
    keyworker.axe()
    flag = Flag.objects.get(patient=p1, rule="missed-doses")
    assert flag.severity == "urgent"
    keyworker.go(f"/patients/{p1.pk}/flags/")
    assert kpage.get_by_text("Missed doses").first.is_visible()
    keyworker.axe()
    keyworker.screenshot("journey-missed-doses-flag")
    # While the run stands only the prescriber changes the dose.
    phone.go("/portal/medication/")
    stop = "your prescriber needs to see you before your dose changes"
    assert mine.get_by_text(stop).first.is_visible()
    assert mine.get_by_role("button", name="Ask for this dose").count() == 0
    phone.axe()

    # 4. The prescriber holds the medication review.
    prescriber.go(f"/patients/{p1.pk}/medication/")
    page.get_by_role("link", name="Hold a medication review").click()
    page.get_by_label("About right").check()
    page.fill("#id_patient_view", "Missed a few days when I was ill. I'd like to come down "
                                  "slowly.")
    page.get_by_label("Reduce the dose").check()
    page.get_by_label("The patient", exact=True).check()
    page.fill("#id_next_review", (today + datetime.timedelta(days=56)).isoformat())
    page.get_by_role("button", name="Record the review").click()
    assert page.get_by_text("The medication review is recorded.").is_visible()
    prescriber.axe()

    # 5. The reduction Pat chose: planned, paused and resumed.
    page.get_by_role("link", name="Plan a reduction the patient chose").click()
    page.fill("#id_step", "5")
    page.fill("#id_every_days", "7")
    page.fill("#id_target", "20")
    page.get_by_role("button", name="Show the steps").click()
    prescriber.axe()
    page.get_by_role("button", name="Save the reduction").click()
    assert page.get_by_text("The reduction is planned").is_visible()
    assert page.get_by_role("table", name="Steps to come").is_visible()
    prescriber.axe()
    page.get_by_role("button", name="Pause the reduction").click()
    assert page.get_by_text("The reduction is paused").first.is_visible()
    prescriber.axe()
    page.get_by_role("button", name="Resume the reduction").click()
    assert page.get_by_text("The reduction goes ahead again").is_visible()
    prescriber.axe()
    prescriber.screenshot("journey-reduction")

    # The prescriber's list of patients on medication: Pat's review is recorded, no request waits.
    page.get_by_role("link", name="On medication").click()
    assert page.get_by_role("heading", level=1).first.is_visible()
    assert page.get_by_text(p1.service_id).first.is_visible()
    prescriber.axe()
    prescriber.screenshot("journey-on-medication")
