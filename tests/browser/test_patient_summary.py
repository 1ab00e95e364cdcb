"""The staff patient page and the priority comparison in Chromium, on a phone (390 × 844) and
a desktop (1280 wide): the summary and the sub-navigation are there, every table's header
cells can be read (whose answer is whose in the comparison), zero axe violations."""

import datetime

import pytest

from tests.conftest import PASSWORD
from tests.test_checkups import complete
from tests.test_patient_summary import add_flag, add_goals, add_plan, gad7, phq9
from tests.test_priorities import sort_data, start

pytestmark = pytest.mark.browser

PHONE, DESKTOP = (390, 844), (1280, 900)

# Each header cell of each table that cannot be read: hidden, or off the screen sideways
# without a keyboard-focusable, labelled region to scroll it into view.
UNREADABLE_HEADERS = """selector => {
  const problems = [];
  for (const table of document.querySelectorAll(selector)) {
    for (const th of table.querySelectorAll('thead th')) {
      const box = th.getBoundingClientRect();
      const style = getComputedStyle(th);
      const name = th.textContent.trim() || '(blank)';
      if (!box.width || !box.height || style.display === 'none' || style.visibility !== 'visible') {
        problems.push(`hidden: ${name}`);
        continue;
      }
      if (box.left >= 0 && box.right <= window.innerWidth + 0.5) continue;
      let region = table.parentElement;
      while (region && !['auto', 'scroll'].includes(getComputedStyle(region).overflowX)) {
        region = region.parentElement;
      }
      const reachable = region && region.tabIndex >= 0 && region.getAttribute('aria-label');
      if (!reachable) problems.push(`off the screen, nowhere to scroll it from: ${name}`);
    }
  }
  return problems;
}"""


def readable(tab, selector="table"):
    page = tab.page
    assert page.locator(selector).count() > 0, f"no {selector} on {page.url}"
    assert page.evaluate(UNREADABLE_HEADERS, selector) == []
    # Nothing pushes the page itself sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def history(world):
    client = world.client("practitioner")
    p1 = world.p1
    add_goals(world, client, p1)
    complete(p1, "phq9", phq9(18), 60)
    complete(p1, "phq9", phq9(9), 5)
    complete(p1, "gad7", gad7(5), 60)
    complete(p1, "gad7", gad7(12), 5)
    complete(p1, "life-domains", {"housing": 3, "drug_use": 6}, 5)
    add_plan(client, p1, datetime.date.today() + datetime.timedelta(days=30))
    add_flag(world, p1, "urgent", 1)
    add_flag(world, p1, "medium", 2)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_patient_page_opens_with_its_summary(live_world, visit, viewport):
    history(live_world)
    tab = visit(viewport=viewport)
    tab.sign_in("practitioner", PASSWORD)
    tab.go(f"/patients/{live_world.p1.pk}/")
    page = tab.page
    assert page.title() == "Pat Patient T-001 · Tandem"
    summary = page.get_by_role("region", name="Summary")
    assert summary.is_visible()
    assert summary.get_by_text("Better").is_visible()
    assert summary.get_by_text("Substance goal: Controlled or moderate use").is_visible()
    assert summary.get_by_text("2 open").is_visible()
    nav = page.get_by_role("navigation", name="Pat Patient T-001's record")
    current = nav.locator("[aria-current=page]")
    assert current.count() == 1 and current.inner_text() == "Summary"
    for label in ("Check-ups", "Priorities", "Goals", "Plan", "Flags", "Timeline",
                  "Record a contact"):
        assert nav.get_by_role("link", name=label, exact=True).is_visible()
    assert page.get_by_role("heading", name="Timeline").count() == 1
    readable(tab)
    tab.axe()
    tab.screenshot(f"patient-summary-{viewport[0]}")
    # The sub-navigation leads to each section, which marks itself.
    nav.get_by_role("link", name="Check-ups", exact=True).click()
    page.wait_for_url("**/checkups/")
    mark = page.get_by_role("navigation", name="Pat Patient T-001's record").locator(
        "[aria-current=page]")
    assert mark.inner_text() == "Check-ups"
    readable(tab)
    tab.axe()


def compared(world):
    session = start(world)
    staff, patient = world.client("practitioner"), world.client("patient")
    base = f"/patients/{world.p1.pk}/priorities/{session.pk}/"
    assert staff.post(base + "practitioner/", sort_data(
        now=["drug_use", "housing", "alcohol_use"], not_for_me=["eating"])).status_code == 302
    assert patient.post(f"/portal/priorities/{session.pk}/", sort_data(
        now=["housing", "mental_health"], not_for_me=["offending", "family"], helps=["housing"],
        notes={"housing": "Sofa-surfing at my sister's, since the spring"})).status_code == 302
    return session


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_whose_pile_is_whose_can_be_read_on_the_comparison(live_world, visit, viewport):
    session = compared(live_world)
    mine = visit(viewport=viewport)
    mine.sign_in("patient", PASSWORD)
    mine.go(f"/portal/priorities/{session.pk}/")
    page = mine.page
    table = page.get_by_role("table", name="Your pile and your keyworker's, card by card")
    assert table.count() == 2  # where the sorts differ, and every card
    every = table.last
    assert [h.inner_text() for h in every.locator("thead th").all()] == [
        "Card", "You", "Your keyworker"]
    # The patient's "Alcohol use" row: "Later" is theirs, "Now" their keyworker's.
    row = every.get_by_role("row", name="Alcohol use")
    assert [c.inner_text() for c in row.locator("td").all()] == ["Later", "Now (#3)"]
    readable(mine, "table.comparison")
    readable(mine)
    mine.axe()
    mine.screenshot(f"priority-comparison-portal-{viewport[0]}")

    staff = visit(viewport=viewport)
    staff.sign_in("practitioner", PASSWORD)
    staff.go(f"/patients/{live_world.p1.pk}/priorities/{session.pk}/")
    headers = staff.page.locator("table.comparison").last.locator("thead th")
    assert [h.inner_text() for h in headers.all()] == [
        "Card", "Pat Patient T-001 (patient)", "Practitioner"]
    readable(staff, "table.comparison")
    staff.axe()
    staff.screenshot(f"priority-comparison-staff-{viewport[0]}")
