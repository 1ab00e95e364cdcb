"""A patient who forgot their password asks for a link by email on their phone, the worker
sends it (the outbox's file backend), and they choose a new password from the link and sign
in with it. Zero axe violations on each page; a second use of the link is refused kindly."""

import re

import pytest

from tandem.outbox.tasks import retry_messages
from tandem.patients.models import Patient
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

PHONE = (390, 844)
NEW_PASSWORD = "a quiet harbour at noon 7"


def test_a_patient_resets_their_password_from_an_emailed_link(live_world, live_server, visit,
                                                               settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    settings.SITE_URL = live_server.url
    Patient.objects.filter(pk=live_world.p1.pk).update(email="pat@example.org",
                                                       agrees_to_email=True)
    phone = visit(viewport=PHONE)
    phone.go("/accounts/login/")
    phone.page.get_by_role("link", name="choose a new one here").click()
    phone.axe()
    phone.page.get_by_label("Your username").fill("patient")
    phone.page.get_by_label("A link by email").check()
    phone.page.get_by_role("button", name="Send it").click()
    phone.axe()

    assert retry_messages.call()["sent"] == 1  # what the worker does
    text = sorted(tmp_path.glob("*.log"))[-1].read_text()
    link = re.search(r"https?://\S+/join/reset/\S+/\S+/", text).group(0)
    phone.go(link.removeprefix(live_server.url))
    assert phone.page.get_by_role("heading", name="Choose a new password").is_visible()
    phone.axe()
    # A password the rules refuse is named; the page stays.
    phone.page.locator("input[type=password]").nth(0).fill("short")
    phone.page.locator("input[type=password]").nth(1).fill("short")
    phone.page.get_by_role("button", name="Save my new password").click()
    assert phone.page.get_by_text("This password is too short").first.is_visible()
    phone.page.locator("input[type=password]").nth(0).fill(NEW_PASSWORD)
    phone.page.locator("input[type=password]").nth(1).fill(NEW_PASSWORD)
    phone.page.get_by_role("button", name="Save my new password").click()
    phone.axe()
    phone.screenshot("portal-reset-done-phone")

    phone.go(link.removeprefix(live_server.url))
    assert phone.page.get_by_text("This link has already been used or has expired").is_visible()
    fresh = visit(viewport=PHONE)
    fresh.sign_in("patient", NEW_PASSWORD)
    assert fresh.page.get_by_role("heading", name="My recovery").is_visible()
    old = visit(viewport=PHONE)
    old.sign_in("patient", PASSWORD)
    assert "/portal/" not in old.page.url
