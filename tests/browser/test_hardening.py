"""The pages of the hardening issue, in Chromium with zero axe-core violations: a second save
of a patient's details told what changed (and keeping what was typed), the page where a new
colleague sets their own password from the emailed link, an admin's user form with no password
in it, and the page for a request holding an unreadable character."""

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_a_second_save_of_a_patients_details_is_told_what_changed(live_world, visit):
    from tandem.patients.models import Patient
    from tandem.records.versioning import bump

    tab = visit()
    tab.sign_in("practitioner", PASSWORD)
    tab.go(f"/patients/{live_world.p1.pk}/edit/")
    tab.page.get_by_label("Phone").fill("01632 960002")
    patient = Patient.objects.get(pk=live_world.p1.pk)
    patient.phone = "01632 960001"  # someone else saves meanwhile
    bump(patient, ["phone"])
    tab.page.get_by_role("button", name="Save").click()
    assert tab.page.get_by_text("Someone else changed this record").is_visible()
    assert tab.page.get_by_label("Phone").input_value() == "01632 960002"
    tab.axe()
    tab.screenshot("patient-details-changed-meanwhile")
    assert Patient.objects.get(pk=patient.pk).phone == "01632 960001"


def test_a_new_colleague_sets_their_own_password_from_the_link(live_world, visit):
    user = live_world.users["prescriber"]
    user.set_unusable_password()
    user.save()
    link = (f"/manage/password/{urlsafe_base64_encode(force_bytes(user.pk))}/"
            f"{default_token_generator.make_token(user)}/")
    tab = visit()
    tab.go(link)
    tab.axe()
    fields = tab.page.locator("input[type=password]")
    fields.nth(0).fill("a-long-unusual-passphrase-42")
    fields.nth(1).fill("a-long-unusual-passphrase-42")
    tab.page.locator("form button[type=submit]").click()
    tab.axe()
    user.refresh_from_db()
    assert user.check_password("a-long-unusual-passphrase-42")


def test_the_admin_user_form_offers_a_reset_not_a_password(live_world, visit):
    tab = visit()
    tab.sign_in("service_admin", PASSWORD)
    tab.go("/manage/users/")
    tab.axe()
    tab.go(f"/manage/users/{live_world.users['prescriber'].pk}/")
    assert tab.page.locator("input[type=password]").count() == 0
    assert tab.page.get_by_role("button", name="Send a password reset").is_visible()
    tab.axe()


def test_an_unreadable_character_is_explained_in_plain_words(live_world, visit):
    tab = visit()
    tab.sign_in("practitioner", PASSWORD)
    tab.go("/patients/?q=a%00b")
    assert tab.page.get_by_text("could not be read").first.is_visible()
    tab.axe()
