"""The service report in Chromium: a service manager opens it (their home), filters to one team
and a period, follows a figure to its definition and downloads a CSV whose small numbers are
suppressed; a team lead goes from "Medication review overdue" to the patients behind it.
Zero axe violations on the report, the definitions and the list of patients.

The data is made here: p1 (team A) and p3 (team B) each have a methadone plan started 120 days
ago and never reviewed, so both are overdue for a medication review (more than 3 months)."""

import csv
import datetime
import io

import pytest

from tests.conftest import PASSWORD
from tests.test_report_views import overdue_plan

pytestmark = pytest.mark.browser


def test_a_manager_filters_reads_a_definition_and_exports_a_suppressed_csv(live_world, visit):
    overdue_plan(live_world, live_world.p1)
    overdue_plan(live_world, live_world.p3)
    today = datetime.date.today()
    start = today - datetime.timedelta(days=180)

    manager = visit()
    page = manager.page
    manager.sign_in("service_manager", PASSWORD)  # home is the report
    assert page.get_by_role("heading", name="Service report", level=1).is_visible()
    assert page.get_by_text("Every team:").first.is_visible()
    manager.axe()
    manager.screenshot("service-report")

    page.select_option("#id_team", label="Team A")
    page.fill("#id_start", start.isoformat())
    page.fill("#id_end", today.isoformat())
    page.get_by_role("button", name="Show the figures").click()
    assert page.get_by_text("Team A:").first.is_visible()
    assert f"team={live_world.team_a.pk}" in page.url
    row = page.locator("#figure-medication-review-overdue")
    # Team A: p1 only, 1 patient, marked as hidden outside the service.
    assert row.locator("td").first.text_content().startswith("1")
    assert "would be suppressed outside the service" in row.locator("td").first.text_content()
    manager.axe()
    manager.screenshot("service-report-team-a")

    page.get_by_role("link", name="Definition of “Medication review overdue”").click()
    assert page.url.endswith("/reports/definitions/#medication-review-overdue")
    card = page.locator("#medication-review-overdue")
    assert card.get_by_role("heading", name="Medication review overdue").is_visible()
    assert card.get_by_text("more than 3 months before the last day").is_visible()
    manager.axe()
    manager.screenshot("service-report-definitions")

    page.go_back()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV", exact=True).click()
    saved = download.value
    assert saved.suggested_filename == (
        f"tandem-service-report-{start:%Y-%m-%d}-to-{today:%Y-%m-%d}.csv")
    with open(saved.path(), encoding="utf-8-sig") as f:
        rows = list(csv.reader(io.StringIO(f.read())))
    assert ["Filters", "team Team A; any keyworker; any setting; any substance group"] in rows
    overdue = next(r for r in rows if len(r) > 5 and r[1] == "Medication review overdue")
    assert overdue[5] == "*"  # 1 patient: hidden
    on_medication = next(r for r in rows if len(r) > 5 and r[1] == "On substitute medication")
    assert on_medication[5] == "*"
    assert "1" not in {r[5] for r in rows if len(r) > 5}  # no exact small count left


def test_a_team_lead_drills_down_from_medication_review_overdue(live_world, visit):
    overdue_plan(live_world, live_world.p1)
    overdue_plan(live_world, live_world.p3)

    lead = visit()
    page = lead.page
    lead.sign_in("team_lead", PASSWORD)
    page.get_by_role("link", name="Service report").first.click()
    assert page.get_by_text("Team A:").first.is_visible()
    lead.axe()
    page.get_by_role("link", name="The patients behind “Medication review overdue”").click()
    assert page.get_by_role("heading", name="Patients behind “Medication review overdue”"
                            ).is_visible()
    table = page.get_by_role("region", name="Patients table")
    assert table.get_by_role("link", name="Patient T-001, Pat").is_visible()
    assert table.get_by_text("T-003").count() == 0  # team B's: not the team lead's
    lead.axe()
    lead.screenshot("service-report-drill-down")
    table.get_by_role("link", name="Patient T-001, Pat").click()
    assert page.get_by_text("T-001").first.is_visible()

    # A share lists the patients it leaves out too: nobody has had a check-up, so team A's
    # patients, in treatment for longer than the 12-week interval, are not on schedule.
    lead.go("/reports/")
    page.get_by_role("link", name="The patients behind “Check-ups on schedule”").click()
    page.get_by_role("link", name="In its group, not counted").click()
    assert page.get_by_role("heading", name="Patients not counted in “Check-ups on schedule”"
                            ).is_visible()
    late = page.get_by_role("region", name="Patients table")
    assert late.get_by_role("link", name="Patient T-001, Pat").is_visible()
    assert late.get_by_text("T-003").count() == 0
    lead.axe()

    phone = visit(viewport=(390, 844))
    phone.sign_in("team_lead", PASSWORD)
    phone.go("/reports/")
    phone.axe()
    phone.screenshot("service-report-phone")
