"""On a phone (390 × 844): a patient does a whole check-up as one flow, tapping the 0 to 10
buttons for the life-domain ratings, with zero axe-core violations on every kind of page; the
top bar stays one compact line, and its menu works without JavaScript."""

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

PHONE = (390, 844)


def header_height(tab) -> float:
    return tab.page.evaluate("document.querySelector('header.top').getBoundingClientRect().height")


def answer_screen(page):
    """An ordinary answer to every question on the screen, tapping (clicking) what is shown:
    a rating's button 7, the first choice, "No", 0 days and no amounts."""
    for group in page.locator("form.question .rating").all():
        group.locator("label.rating-option", has_text="7").first.click()
    names = page.eval_on_selector_all(
        "form.question input[type=radio]:not(.rating input)",
        "els => [...new Set(els.map(e => e.name))]")
    for name in names:
        radios = page.locator(f"input[name='{name}']")
        values = radios.evaluate_all("els => els.map(e => e.value)")
        radios.nth(values.index("no") if "no" in values else 0).check()
    for box in page.locator("form.question input[type=text]").all():
        name = box.get_attribute("name")
        if box.get_attribute("inputmode") == "numeric" and not name.endswith("name"):
            box.fill("0")
    page.locator("button[value=next]").click()


def test_a_whole_check_up_as_one_flow_on_a_phone(live_world, visit):
    from tandem.assessment.models import Checkup, Response

    tab = visit(viewport=PHONE)
    tab.sign_in("patient", PASSWORD)
    assert header_height(tab) <= 80
    tab.go("/portal/checkups/")
    assert header_height(tab) <= 80
    tab.axe()
    tab.page.get_by_role("button", name="Start my check-up").click()
    seen, ratings, number = set(), 0, 0
    while "/answers/" not in tab.page.url:
        number += 1
        label = tab.page.locator(".progress-label").inner_text()
        assert label.startswith(f"Question {number} of ")
        assert tab.page.locator("progress").is_visible()
        assert tab.page.locator(".part-label").inner_text().startswith("Part ")
        kinds = tab.page.eval_on_selector_all(
            "form.question input:not([type=hidden])",
            "els => [...new Set(els.map(e => e.type + (e.closest('.rating') ? '-rating' : '')))]"
            ".sort().join()")
        if kinds not in seen:  # each kind of screen is checked once (the template is shared)
            seen.add(kinds)
            tab.axe()
        buttons = tab.page.locator("label.rating-option")
        if buttons.count() == 21 * 3:  # the outcomes profile's three 0 to 20 ratings
            tab.screenshot("one-checkup-phone-rating-0-to-20")
        if buttons.count() == 11:  # a life-domain rating, 0 to 10
            ratings += 1
            if ratings == 1:
                boxes = [buttons.nth(i).bounding_box() for i in range(11)]
                assert all(b["width"] >= 44 and b["height"] >= 44 for b in boxes)
                rows = {round(b["y"]) for b in boxes}
                assert len(rows) <= 2  # wraps to two rows at most on 390 px
                assert max(b["x"] + b["width"] for b in boxes) <= 390
                assert tab.page.locator(".rating-ends").inner_text().startswith("0 = very bad")
                tab.screenshot("one-checkup-phone-rating")
        answer_screen(tab.page)
        assert number < 80
    total = int(label.split(" of ")[1])
    assert number == total and ratings == 13
    tab.axe()
    tab.screenshot("one-checkup-phone-review")
    tab.page.get_by_role("button", name="Send my answers").click()
    assert tab.page.get_by_role("heading", name="Thank you: your check-up is done").is_visible()
    tab.axe()
    tab.screenshot("one-checkup-phone-done")
    checkup = Checkup.objects.get(patient=live_world.p1)
    assert checkup.completed_at is not None
    done = Response.objects.filter(checkup=checkup, status="completed")
    assert done.count() == 4
    life = done.get(instrument_code="life-domains")
    assert set(life.answers.values()) == {7}


def test_a_safety_answer_mid_check_up_shows_help_at_once(live_world, visit):
    from tandem.assessment.models import CheckupSettings
    from tandem.monitoring.models import Flag

    CheckupSettings.objects.create(organisation=live_world.org, instruments=["phq9", "gad7"])
    tab = visit(viewport=PHONE)
    tab.sign_in("patient", PASSWORD)
    tab.go("/portal/checkups/")
    tab.page.get_by_role("button", name="Start my check-up").click()
    for _ in range(8):
        answer_screen(tab.page)
    assert tab.page.locator(".progress-label").inner_text() == "Question 9 of 16"
    tab.page.get_by_label("Several days").check()
    tab.page.locator("button[value=next]").click()
    assert tab.page.get_by_text("Help is available now").is_visible()
    assert Flag.objects.filter(patient=live_world.p1, severity="urgent").exists()
    tab.axe()
    tab.page.get_by_role("link", name="Carry on with the check-up").click()
    assert tab.page.locator(".progress-label").inner_text() == "Question 10 of 16"
    assert "Part 2 of 2" in tab.page.locator(".part-label").inner_text()


def test_the_phone_menu_works_without_javascript(live_world, visit):
    tab = visit(viewport=PHONE, javascript=False)
    tab.sign_in("patient", PASSWORD)
    tab.go("/portal/checkups/")
    assert header_height(tab) <= 80
    menu = tab.page.locator("summary.menu-button")
    assert menu.is_visible() and not tab.page.locator(".nav-wide").is_visible()
    assert tab.page.get_by_role("button", name="Sign out").is_visible()
    menu.click()
    link = tab.page.locator(".menu-panel").get_by_role("link", name="My plan")
    assert link.is_visible()
    assert header_height(tab) <= 80  # the open menu lies over the page
    tab.screenshot("phone-header-menu-open")
    link.click()
    assert tab.page.url.endswith("/portal/plan/")


def test_the_phone_menu_with_the_keyboard_and_axe(live_world, visit):
    tab = visit(viewport=PHONE)
    tab.sign_in("patient", PASSWORD)
    tab.go("/portal/checkups/")
    tab.page.locator("summary.menu-button").focus()
    tab.page.keyboard.press("Enter")
    assert tab.page.locator(".menu-panel").is_visible()
    tab.axe()
    tab.screenshot("phone-header")


def test_the_wide_header_keeps_its_links_in_view(live_world, visit):
    tab = visit(viewport=(1280, 900))
    tab.sign_in("patient", PASSWORD)
    tab.go("/portal/checkups/")
    assert tab.page.locator(".nav-wide").get_by_role("link", name="My plan").is_visible()
    assert not tab.page.locator("summary.menu-button").is_visible()
    assert header_height(tab) <= 80
    tab.axe()


def test_resume_on_another_device_at_the_same_question(live_world, visit):
    tab = visit(viewport=PHONE, javascript=False)
    tab.sign_in("patient", PASSWORD)
    tab.go("/portal/checkups/")
    tab.page.get_by_role("button", name="Start my check-up").click()
    for _ in range(3):
        answer_screen(tab.page)
    tab.page.get_by_role("button", name="Save and finish later").click()
    other = visit(viewport=PHONE, javascript=False)
    other.sign_in("patient", PASSWORD)
    other.go("/portal/checkups/")
    other.page.get_by_role("button", name="Carry on my check-up").click()
    assert other.page.locator(".progress-label").inner_text().startswith("Question 4 of ")
