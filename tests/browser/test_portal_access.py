"""Giving a new patient a portal login in Chromium: the practitioner records the patient's
agreement to email and invites them; the link is read from the delivered email (Django's
file backend in the outbox directory); the patient opens it in a fresh browser on a phone,
confirms their date of birth, chooses a username and password and lands in the portal.
Zero axe violations on every page, at 1280 and at 390 × 844."""

import re

import pytest

from tandem.patients.models import Patient
from tests.conftest import PASSWORD, make_patient

pytestmark = pytest.mark.browser


def delivered_link(directory) -> str:
    files = sorted((directory / "email").glob("*.log"))
    assert files, "no email was written to the outbox directory"
    text = files[-1].read_text()
    return re.search(r"https?://\S+/join/[\w-]+/", text).group(0)


def set_up(page, *, day, username, password):
    """Fill in the set-up page: date of birth (17 May 1985 is right), username, password."""
    page.get_by_label("Day").fill(day)
    page.get_by_label("Month").fill("5")
    page.get_by_label("Year").fill("1985")
    page.get_by_label("Choose a username").fill(username)
    page.locator("#id_password1").fill(password)
    page.locator("#id_password2").fill(password)
    page.get_by_role("button", name="Set up my account").click()


def test_invite_by_email_then_activate_on_a_phone(live_world, visit, settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "email"
    settings.OUTBOX_DIR = tmp_path
    newcomer = make_patient(live_world.org, live_world.team_a, "T-020",
                            members=[(live_world.users["practitioner"], "keyworker")])
    Patient.objects.filter(pk=newcomer.pk).update(email="newcomer@example.org")

    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    staff.go(f"/patients/{newcomer.pk}/edit/")
    staff.page.get_by_label("Agrees to email").check()
    staff.page.get_by_role("button", name="Save").click()
    staff.go(f"/patients/{newcomer.pk}/portal/")
    assert staff.page.get_by_text("No portal access").is_visible()
    staff.axe()
    staff.page.get_by_label("Email to newcomer@example.org").check()
    staff.page.get_by_role("button", name="Send the invitation").click()
    assert staff.page.get_by_text("Invitation sent by email to newcomer@example.org").is_visible()
    assert staff.page.get_by_text("Invited, not yet activated").is_visible()
    staff.axe()

    link = delivered_link(tmp_path)
    assert link.split("/join/")[1].strip("/") not in staff.page.content()
    phone = visit(viewport=(390, 844))  # a fresh browser: nobody signed in
    phone.go(link.replace(re.match(r"https?://[^/]+", link).group(0), ""))
    assert phone.page.get_by_role("heading", name="Set up your account").is_visible()
    phone.axe()
    # A wrong date of birth is named, and what was typed stays.
    set_up(phone.page, day="18", username="newcomer20", password="short")
    assert phone.page.get_by_role(
        "link", name="Date of birth: The date of birth does not match").is_visible()
    assert phone.page.get_by_text("This password is too short").first.is_visible()
    assert phone.page.get_by_label("Choose a username").input_value() == "newcomer20"
    phone.axe()
    phone.screenshot("portal-access-activate-phone")
    phone.page.get_by_label("Day").fill("17")
    phone.page.locator("#id_password1").fill("a long river at dawn 42")
    phone.page.locator("#id_password2").fill("a long river at dawn 42")
    phone.page.get_by_role("button", name="Set up my account").click()
    assert phone.page.url.endswith("/portal/")
    assert phone.page.get_by_text("Your account is ready").is_visible()
    phone.axe()

    staff.page.reload()
    assert staff.page.get_by_text("Has portal access").is_visible()
    assert staff.page.get_by_text("newcomer20").is_visible()
    staff.axe()


def test_the_public_pages_and_the_letter_are_accessible(live_world, visit):
    p1 = live_world.p1
    staff = visit()
    staff.sign_in("practitioner", PASSWORD)
    staff.go(f"/patients/{p1.pk}/portal/")
    staff.page.get_by_label(re.compile("Letter, printed")).check()
    staff.page.get_by_role("button", name="Send the invitation").click()
    assert staff.page.locator(".letter svg").is_visible()
    staff.axe()
    code = staff.page.locator(".letter-big").inner_text()
    phone = visit(viewport=(390, 844))
    for path in ("/join/", "/join/forgot/", "/join/reset/code/"):
        phone.go(path)
        phone.axe()
    phone.go("/join/")
    phone.page.get_by_label("Your code").fill(code.lower())
    phone.page.get_by_role("button", name="Next").click()
    assert phone.page.url.endswith("/join/confirm/")
    assert phone.page.get_by_text("You already have an account").is_visible()
    phone.axe()
