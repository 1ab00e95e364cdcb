"""A patient completes every shipped questionnaire on a phone-sized screen as one check-up, one
question per screen, with zero axe-core violations; a safety answer shows crisis contacts at
once; the practitioner then sees scores, bands, charts and reliable-change labels."""

import datetime

import pytest
from django.utils import timezone

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

PHONE = (390, 844)
ORDER = ["top", "life-domains", "phq9", "gad7", "audit", "audit-c", "k10"]


def answer_screen(page, option=1):
    """Answer every question on the screen: the given option of each choice, "No" for yes/no
    questions, 1 for numbers; then Next."""
    names = page.eval_on_selector_all(
        "form.question input[type=radio]", "els => [...new Set(els.map(e => e.name))]")
    for name in names:
        radios = page.locator(f"input[name='{name}']")
        values = radios.evaluate_all("els => els.map(e => e.value)")
        if values == ["yes", "no"]:
            radios.nth(1).check()
        else:
            radios.nth(min(option, len(values) - 1)).check()
    for box in page.locator("form.question input[type=text]").all():
        if box.get_attribute("inputmode") in ("numeric", "decimal"):
            box.fill("1")
    page.locator("button[value=next]").click()


def test_patient_completes_every_questionnaire_on_a_phone(live_world, visit):
    from tandem.assessment.models import CheckupSettings, Response
    from tandem.monitoring.models import Flag

    # The service asks for every shipped questionnaire in its check-up: one check-up of seven.
    CheckupSettings.objects.create(organisation=live_world.org, instruments=ORDER)
    tab = visit(viewport=PHONE)
    tab.sign_in("patient", PASSWORD)
    tab.go("/portal/checkups/")
    assert tab.page.get_by_role("heading", name="A check-up is due").is_visible()
    tab.axe()
    tab.page.get_by_role("button", name="Start my check-up").click()
    seen, screens, safety_seen = set(), 0, False
    while "/answers/" not in tab.page.url:
        assert tab.page.locator("progress").is_visible()
        heading = tab.page.locator(".progress-label").inner_text()
        assert heading.startswith(f"Question {screens + 1} of ")
        kinds = tab.page.eval_on_selector_all(
            "form.question input", "els => [...new Set(els.map(e => e.type))].sort().join()")
        if kinds not in seen:  # every kind of screen is checked (the template is shared)
            seen.add(kinds)
            tab.axe()
        part = tab.page.locator(".part-label").inner_text()
        question_9 = tab.page.locator("input[name=item_9]").count() > 0
        if "Your mood" in part and question_9:
            tab.screenshot("checkup-phone-question")
            answer_screen(tab.page, option=1)  # "Several days": a safety answer
            assert tab.page.get_by_text("Help is available now").is_visible()
            assert tab.page.get_by_text("116 123").is_visible()
            assert Flag.objects.filter(patient=live_world.p1, severity="urgent").exists()
            tab.axe()
            tab.screenshot("checkup-phone-crisis-contacts")
            tab.page.get_by_role("link", name="Carry on with the check-up").click()
            safety_seen = True
        else:
            answer_screen(tab.page)
        screens += 1
        assert screens < 120
    assert safety_seen
    tab.axe()
    tab.page.get_by_role("button", name="Send my answers").click()
    assert tab.page.get_by_role("heading", name="Thank you: your check-up is done").is_visible()
    tab.axe()
    done = Response.objects.filter(patient=live_world.p1, status="completed")
    assert sorted(done.values_list("instrument_code", flat=True)) == sorted(ORDER)
    assert all(r.mode == "self" and r.completed_at for r in done)
    tab.go("/portal/checkups/")
    assert tab.page.get_by_role("heading", name="Next check-up").is_visible()
    tab.axe()


def test_save_and_resume_on_another_device_without_javascript(live_world, visit):
    from tandem.assessment.models import CheckupSettings

    CheckupSettings.objects.create(organisation=live_world.org, instruments=["gad7"])
    tab = visit(viewport=PHONE, javascript=False)
    tab.sign_in("patient", PASSWORD)
    tab.go("/portal/checkups/")
    tab.page.get_by_role("button", name="Start my check-up").click()
    tab.page.locator("#id_item_1_2").check()
    tab.page.get_by_role("button", name="Save and finish later").click()
    assert tab.page.get_by_text("Saved. You can carry on").is_visible()
    # Another device: a fresh browser, signed in again.
    other = visit(viewport=PHONE, javascript=False)
    other.sign_in("patient", PASSWORD)
    other.go("/portal/checkups/")
    other.page.get_by_role("button", name="Carry on my check-up").click()
    assert other.page.locator("#id_item_1_2").is_checked()
    assert other.page.locator(".progress-label").inner_text() == "Question 1 of 7"


def seed_history(patient):
    from tandem.assessment import registry
    from tandem.assessment.models import Response
    from tandem.assessment.responses import store_result
    from tandem.core.scoring import score

    for days, value in ((120, 3), (60, 2), (5, 1)):
        for code in ("phq9", "gad7"):
            ins = registry.shipped()[code]
            answers = {i.id: value for i in ins.items}
            when = timezone.now() - datetime.timedelta(days=days)
            r = Response(organisation=patient.organisation, patient=patient, instrument_code=code,
                         instrument_version=ins.version, mode="self", status="completed",
                         answers=answers, started_at=when, updated_at=when, completed_at=when)
            store_result(r, score(ins, answers))
            r.save()
        ld = registry.shipped()["life-domains"]
        answers = {i.id: (n + days // 30) % 11 for n, i in enumerate(ld.items)}
        r = Response(organisation=patient.organisation, patient=patient,
                     instrument_code="life-domains", instrument_version=ld.version, mode="self",
                     status="completed", answers=answers, completed_at=when)
        store_result(r, score(ld, answers))
        r.save()


def test_practitioner_sees_scores_charts_and_reliable_change(live_world, visit):
    seed_history(live_world.p1)
    tab = visit(viewport=(1280, 900))
    tab.sign_in("practitioner", PASSWORD)
    tab.go(f"/patients/{live_world.p1.pk}/")
    tab.axe()
    tab.page.get_by_role("link", name="Check-ups", exact=True).click()
    page = tab.page
    assert page.get_by_role("heading", name="Patient Health Questionnaire-9").is_visible()
    assert page.locator("svg[role=img]").count() >= 3
    assert page.get_by_text("reliably improved").first.is_visible()
    assert page.locator("td", has_text="Severe").first.is_visible()
    tab.axe()
    tab.screenshot("checkup-results")
    page.get_by_role("link", name="Enter a check-up").click()
    page.locator("#id_instrument").select_option("audit-c")
    page.get_by_role("button", name="Start").click()
    page.locator("#id_item_1_0").check()
    page.get_by_role("button", name="Finish and score").click()
    assert page.locator(".error-summary").is_visible()
    assert page.get_by_text("Answer this question.").first.is_visible()
    tab.axe()
    page.locator("#id_item_2_0").check()
    page.locator("#id_item_3_0").check()
    page.get_by_role("button", name="Finish and score").click()
    assert page.get_by_text("AUDIT-C completed and scored.").is_visible()
    tab.axe()


def test_admin_sees_every_problem_of_an_invalid_upload(live_world, visit):
    tab = visit()
    tab.sign_in("service_admin", PASSWORD)
    tab.go("/manage/checkups/questionnaires/")
    tab.page.fill("#id_text", '{"code": "x", "title": "X", "version": "1", "items": '
                  '[{"id": "a", "text": "A", "type": "choice", "options": [{"label": "no"}]}]}')
    tab.page.get_by_role("button", name="Check and import").click()
    problems = tab.page.locator(".problems li").all_inner_texts()
    assert "items[0].options[0].value: missing" in problems
    assert "licence: missing" in problems and "scales: missing" in problems
    assert "items[0].options: a choice item needs at least two options" in problems
    tab.axe()
    tab.screenshot("instrument-upload-problems")


def test_a_question_can_be_answered_with_the_keyboard_alone(live_world, visit):
    from tandem.assessment.models import CheckupSettings, Response

    CheckupSettings.objects.create(organisation=live_world.org, instruments=["phq9"])
    tab = visit(viewport=PHONE)
    tab.sign_in("patient", PASSWORD)
    tab.go("/portal/checkups/")
    tab.page.locator("form[action='/portal/checkup/begin/'] button").focus()
    tab.page.keyboard.press("Enter")
    tab.page.wait_for_url("**/1/")
    assert tab.page.locator(".progress-label").inner_text() == "Question 1 of 9"
    for _ in range(30):  # Tab until the first answer has focus
        tab.page.keyboard.press("Tab")
        if tab.page.evaluate("document.activeElement.name") == "item_1":
            break
    tab.page.keyboard.press("Space")  # choose "Not at all"
    tab.page.keyboard.press("ArrowDown")  # move to, and choose, "Several days"
    tab.page.keyboard.press("Enter")  # submits with the first button: Next
    tab.page.wait_for_url("**/2/")
    assert tab.page.locator(".progress-label").inner_text() == "Question 2 of 9"
    assert Response.objects.get(patient=live_world.p1).answers == {"1": 1}
