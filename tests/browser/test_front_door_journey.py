"""Issue 14's whole journey, in Chromium: a keyworker invites a new patient to the portal; the
patient opens the link read from the delivered email (the outbox's file backend), activates
their account on a phone, does a whole check-up as one flow, chooses what goes in their
feedback report, writes to their keyworker and shares it; the keyworker sees it in the review.
Zero axe violations on every page on the way."""

import datetime
import re

import pytest

from tandem.assessment.models import Response
from tandem.feedback.models import FeedbackReport
from tandem.patients.models import Patient
from tandem.planning.models import CarePlan, Goal
from tests.browser.test_one_checkup import answer_screen
from tests.browser.test_portal_access import delivered_link, set_up
from tests.conftest import PASSWORD, TODAY, make_patient

pytestmark = pytest.mark.browser

PHONE = (390, 844)
WORDS = "The mornings are the hardest. I'd like to talk about my sleep."


def test_invited_activated_checked_up_and_heard_in_the_review(live_world, visit, settings,
                                                              tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "email"
    settings.OUTBOX_DIR = tmp_path
    keyworker = live_world.users["practitioner"]
    jade = make_patient(live_world.org, live_world.team_a, "T-014",
                        members=[(keyworker, "keyworker")])
    Patient.objects.filter(pk=jade.pk).update(given_name="Jade", email="jade@example.org",
                                              agrees_to_email=True)
    goal = Goal.objects.create(
        organisation=live_world.org, patient=jade, card="housing", proposed_by="patient",
        statement="A place of my own by the summer", created_by=keyworker,
        updated_by=keyworker)
    CarePlan.objects.create(organisation=live_world.org, patient=jade, status="active",
                            updated_by=keyworker,
                            review_date=TODAY + datetime.timedelta(days=30))

    # The keyworker invites Jade from her page, by the email she agreed to.
    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    staff.go(f"/patients/{jade.pk}/")
    staff.page.get_by_role("link", name=re.compile("Portal access")).first.click()
    staff.axe()
    staff.page.get_by_label("Email to jade@example.org").check()
    staff.page.get_by_role("button", name="Send the invitation").click()
    assert staff.page.get_by_text("Invited, not yet activated").is_visible()
    staff.axe()

    # Jade opens the emailed link on her phone and sets up her account.
    link = delivered_link(tmp_path)
    phone = visit(viewport=PHONE)
    phone.go(re.sub(r"^https?://[^/]+", "", link))
    phone.axe()
    set_up(phone.page, day="17", username="jade14", password="kettle on the windowsill 9")
    assert phone.page.get_by_role("heading", name="My recovery").is_visible()
    phone.axe()
    phone.screenshot("front-door-my-recovery-phone")

    # The whole check-up, one flow, from the one button on the home.
    phone.page.get_by_role("button", name="Start my check-up").click()
    screens = 0
    while "/answers/" not in phone.page.url:
        if screens == 0:
            phone.axe()
        answer_screen(phone.page)
        screens += 1
        assert screens < 80
    phone.axe()
    phone.page.get_by_role("button", name="Send my answers").click()
    assert phone.page.get_by_role("heading", name="Thank you: your check-up is done").is_visible()
    phone.axe()
    done = Response.objects.filter(patient=jade, status="completed")
    assert done.count() >= 2 and len({r.checkup_id for r in done}) == 1

    # Her feedback report: she leaves a part out, writes to her keyworker and shares it.
    phone.page.get_by_role("link", name=re.compile("feedback report", re.I)).first.click()
    phone.axe()
    left_out = phone.page.locator("#shape input[type=checkbox]").first
    left_out_name = phone.page.locator(f"label[for='{left_out.get_attribute('id')}']").inner_text()
    left_out.uncheck()
    phone.page.fill("#id_own_words", WORDS)
    phone.page.get_by_role("button", name="Save and share with my care team").click()
    assert phone.page.get_by_text("Shared: your care team can see this report").is_visible()
    phone.axe()
    phone.screenshot("front-door-feedback-shared-phone")
    report = FeedbackReport.objects.get(patient=jade)
    assert report.shared_at is not None

    # The keyworker sees it in the review, beside Jade's own words.
    staff.go(f"/patients/{jade.pk}/plan/review/")
    panel = staff.page.locator(".fb-panel")
    assert panel.locator(".fb-words").inner_text() == WORDS
    assert panel.get_by_role("heading", name=left_out_name.strip()).count() == 0
    assert staff.page.get_by_text(goal.statement).first.is_visible()
    staff.axe()
    staff.screenshot("front-door-review-with-feedback")
