"""Giving a patient a portal login: invitations (email, text, letter), activation by date of
birth, suspension, password resets, and the audit trail of each."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core import mail
from django.db.models import F
from django.test import Client
from django.utils import timezone

from tandem.accounts.models import Role, User
from tandem.audit.actor import Actor
from tandem.audit.models import AuditEvent
from tandem.core.reminders import words_that_tell
from tandem.outbox import services as outbox
from tandem.outbox import sms
from tandem.outbox.models import Message, ServiceWording
from tandem.outbox.tasks import retry_messages
from tandem.patients.models import Patient
from tandem.portal_access import services
from tandem.portal_access.models import Invitation, ResetCode
from tests.conftest import PASSWORD, make_patient

GOOD_PASSWORD = "a long river at dawn 42"
BORN = datetime.date(1985, 5, 17)  # make_patient's date of birth


@pytest.fixture(autouse=True)
def locmem_sms(settings):
    settings.SMS_BACKEND = "tandem.outbox.sms.LocmemBackend"
    sms.LocmemBackend.outbox.clear()
    yield sms.LocmemBackend.outbox
    sms.LocmemBackend.outbox.clear()


@pytest.fixture
def newcomer(world):
    """A patient of the practitioner's care team without a portal account, who agreed to
    email and texts."""
    patient = make_patient(world.org, world.team_a, "T-010",
                           members=[(world.users["practitioner"], "keyworker")])
    Patient.objects.filter(pk=patient.pk).update(
        email="newcomer@example.org", phone="07700 900123", agrees_to_email=True,
        agrees_to_sms=True)
    patient.refresh_from_db()
    return patient


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "https://tandem.example.org"


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Run what is sent after commit, then what the worker sends (a patient's own resets)."""
    def run(action):
        with django_capture_on_commit_callbacks(execute=True):
            result = action()
        retry_messages.call()
        return result
    return run


def staff_post(world, patient, data, role="practitioner"):
    return world.client(role).post(f"/patients/{patient.pk}/portal/", data)


def invite(world, patient, sent, channel="email"):
    response = sent(lambda: staff_post(world, patient, {"do": "invite",
                                                        "invite-channel": channel}))
    assert response.status_code == 302, response.content[:500]
    return response


def link_in(text: str) -> str:
    return re.search(r"https?://\S+/join/[\w-]+/", text).group(0)


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def dob(day, month, year, prefix="date_of_birth"):
    return {f"{prefix}_0": str(day), f"{prefix}_1": str(month), f"{prefix}_2": str(year)}


def activation(born=BORN, username="newcomer1", password=GOOD_PASSWORD, again=None):
    return {**dob(born.day, born.month, born.year), "username": username,
            "password1": password, "password2": again or password}


def open_link(world, patient, sent) -> Client:
    invite(world, patient, sent)
    visitor = Client()
    response = visitor.get(path_of(link_in(mail.outbox[-1].body)))
    assert response.status_code == 302 and response["Location"] == "/join/confirm/"
    return visitor


def events(patient, detail):
    return AuditEvent.objects.filter(patient=patient, detail__contains=detail)


# --- inviting -------------------------------------------------------------------------------


def test_an_invitation_by_email_is_sent_and_the_staff_page_shows_no_token(world, newcomer,
                                                                          sent):
    invite(world, newcomer, sent)
    assert [m.to for m in mail.outbox] == [["newcomer@example.org"]]
    link = link_in(mail.outbox[0].body)
    token = link.rstrip("/").rsplit("/", 1)[1]
    invitation = Invitation.objects.get(patient=newcomer)
    assert invitation.token_digest != token and token not in invitation.token_digest
    message = Message.objects.get(patient=newcomer)
    assert (message.status, message.kind, message.channel) == ("sent", "portal-invitation",
                                                               "email")
    assert token not in message.body  # not kept once sent
    page = world.client("practitioner").get(f"/patients/{newcomer.pk}/portal/")
    assert page.status_code == 200
    assert token not in page.content.decode()
    assert b"Invited, not yet activated" in page.content and b"Sent" in page.content
    assert events(newcomer, "portal invitation by email to newcomer@example.org").exists()


def test_a_text_message_invitation_carries_the_link(world, newcomer, sent, locmem_sms):
    invite(world, newcomer, sent, "sms")
    [(to, body)] = locmem_sms
    assert to == "07700 900123" and "/join/" in body


@pytest.mark.parametrize(("change", "channel", "words"), [
    ({"agrees_to_email": False}, "email", b"has not agreed to be emailed"),
    ({"email": ""}, "email", b"has no email address"),
    ({"agrees_to_sms": False}, "sms", b"has not agreed to text messages"),
    ({"phone": ""}, "sms", b"has no phone number"),
    ({"do_not_contact": True}, "email", b"Do not contact&quot; is recorded"),
    ({"do_not_contact": True}, "sms", b"Do not contact&quot; is recorded"),
])
def test_email_or_text_is_refused_without_agreement_or_address(world, newcomer, sent, change,
                                                               channel, words, locmem_sms):
    Patient.objects.filter(pk=newcomer.pk).update(**change)
    response = sent(lambda: staff_post(world, newcomer, {"do": "invite",
                                                         "invite-channel": channel}))
    page = world.client("practitioner").get(response["Location"])
    assert words in page.content
    assert not Invitation.objects.filter(patient=newcomer).exists()
    assert mail.outbox == [] and locmem_sms == []


def test_a_letter_is_always_possible_and_its_code_goes_once_printed(world, newcomer, sent):
    Patient.objects.filter(pk=newcomer.pk).update(agrees_to_email=False, agrees_to_sms=False)
    response = invite(world, newcomer, sent, "letter")
    assert response["Location"] == f"/patients/{newcomer.pk}/portal/letter/"
    client = world.client("practitioner")
    letter = client.get(response["Location"]).content.decode()
    code = re.search(r'class="letter-big">([A-Z0-9-]+)<', letter).group(1)
    assert "<svg" in letter and "/join/" in letter
    assert "drug" not in letter.lower() and "alcohol" not in letter.lower()  # discreet
    assert mail.outbox == []
    client.post(response["Location"])
    message = Message.objects.get(patient=newcomer)
    assert message.status == "printed" and code not in message.body
    assert code not in client.get(response["Location"]).content.decode()
    # The code typed at /join/ opens the invitation.
    visitor = Client()
    typed = visitor.post("/join/", {"code": code.lower().replace("-", " ")})
    assert typed.status_code == 302 and typed["Location"] == "/join/confirm/"


def test_do_not_contact_allows_only_a_letter_handed_over_in_person(world, newcomer, sent):
    Patient.objects.filter(pk=newcomer.pk).update(do_not_contact=True)
    client = world.client("practitioner")
    page = client.get(f"/patients/{newcomer.pk}/portal/").content.decode()
    assert "<strong>Do not contact</strong> is recorded" in page
    assert "to hand over in person (not to post" in page
    response = invite(world, newcomer, sent, "letter")
    letter = client.get(response["Location"]).content.decode()
    assert "<strong>do not post it</strong>" in letter
    assert mail.outbox == []


def test_an_invitation_checks_do_not_contact_as_saved_when_it_goes(world, newcomer):
    """Recorded while the page was open (the patient read before): refused all the same."""
    Patient.objects.filter(pk=newcomer.pk).update(do_not_contact=True)
    assert not newcomer.do_not_contact  # the copy the page read
    with pytest.raises(services.Refused, match="Do not contact"):
        services.invite(Actor(world.users["practitioner"]), newcomer, "sms",
                        site="https://tandem.example.org")
    assert not Invitation.objects.filter(patient=newcomer).exists()


def test_a_letter_to_hand_over_stays_when_do_not_contact_is_recorded(world, newcomer, sent):
    invite(world, newcomer, sent, "letter")
    client = world.client("practitioner")
    form = client.get(f"/patients/{newcomer.pk}/edit/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and k != "id"}
    data |= {"date_of_birth": newcomer.date_of_birth.isoformat(), "do_not_contact": "on",
             "agrees_to_email": "on", "agrees_to_sms": "on"}
    assert client.post(f"/patients/{newcomer.pk}/edit/", data).status_code == 302
    assert Patient.objects.get(pk=newcomer.pk).do_not_contact
    letter = client.get(f"/patients/{newcomer.pk}/portal/letter/").content.decode()
    assert "I have printed it" in letter and "<strong>do not post it</strong>" in letter


def test_re_sending_voids_the_earlier_invitation(world, newcomer, sent):
    invite(world, newcomer, sent)
    first = link_in(mail.outbox[-1].body)
    invite(world, newcomer, sent)
    second = link_in(mail.outbox[-1].body)
    assert first != second
    old = Client().get(path_of(first))
    assert old.status_code == 200 and b"a newer one was sent" in old.content
    assert Client().get(path_of(second)).status_code == 302
    assert Invitation.objects.filter(patient=newcomer, voided_at__isnull=True).count() == 1


# --- activating --------------------------------------------------------------------------------


def test_activation_makes_the_account_and_signs_the_patient_in(world, newcomer, sent):
    visitor = open_link(world, newcomer, sent)
    response = visitor.post("/join/confirm/", activation())
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert visitor.get("/portal/").status_code == 200
    newcomer.refresh_from_db()
    user = newcomer.portal_user
    assert user.username == "newcomer1" and user.organisation == world.org
    assert set(user.grants.values_list("role", flat=True)) == {Role.PATIENT}
    assert events(newcomer, "account newcomer1 activated").exists()
    summary = services.access_summary(newcomer)
    assert summary.has_account and summary.active and summary.last_sign_in is not None
    assert summary.invitation is None


def test_an_invitation_works_once(world, newcomer, sent):
    invite(world, newcomer, sent)
    link = path_of(link_in(mail.outbox[-1].body))
    visitor = Client()
    visitor.get(link)
    visitor.post("/join/confirm/", activation())
    again = Client().get(link)
    assert b"already been used" in again.content
    assert events(newcomer, "it is used").exists()


def test_an_invitation_expires(world, newcomer, sent, settings):
    invite(world, newcomer, sent)
    Invitation.objects.filter(patient=newcomer).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = Client().get(path_of(link_in(mail.outbox[-1].body)))
    assert response.status_code == 200 and b"has expired" in response.content
    assert events(newcomer, "it is expired").exists()
    assert services.access_summary(newcomer).invitation is None


def test_an_invitation_is_open_for_the_configured_days(world, newcomer, sent, settings):
    settings.PORTAL_INVITATION_DAYS = 7
    invite(world, newcomer, sent)
    invitation = Invitation.objects.get(patient=newcomer)
    assert invitation.expires_at - invitation.created_at == datetime.timedelta(days=7)


def test_expiry_while_typing_is_refused_too(world, newcomer, sent):
    visitor = open_link(world, newcomer, sent)
    Invitation.objects.filter(patient=newcomer).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = visitor.post("/join/confirm/", activation())
    assert b"has expired" in response.content
    newcomer.refresh_from_db()
    assert newcomer.portal_user is None


def test_a_wrong_date_of_birth_names_the_field_and_keeps_what_was_typed(world, newcomer, sent):
    visitor = open_link(world, newcomer, sent)
    response = visitor.post("/join/confirm/", activation(born=datetime.date(1985, 5, 18)))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Date of birth: The date of birth does not match our records" in page
    assert "4 tries left" in page
    assert 'value="newcomer1"' in page and 'value="18"' in page
    assert events(newcomer, "wrong date of birth (1 of 5)").exists()


def test_five_wrong_dates_of_birth_lock_the_invitation(world, newcomer, sent):
    visitor = open_link(world, newcomer, sent)
    for n in range(4):
        visitor.post("/join/confirm/", activation(born=datetime.date(1990, 1, 1 + n)))
    last = visitor.post("/join/confirm/", activation(born=datetime.date(1990, 2, 1)))
    assert b"locked" in last.content
    invitation = Invitation.objects.get(patient=newcomer)
    assert invitation.locked_at is not None and invitation.failed_attempts == 5
    # Even the right date of birth no longer opens it.
    right = open_link_again(visitor, invitation)
    assert b"locked" in right.content
    newcomer.refresh_from_db()
    assert newcomer.portal_user is None
    assert events(newcomer, "invitation locked").exists()


def open_link_again(visitor, invitation):
    session = visitor.session
    session["portal_access_invitation"] = str(invitation.pk)
    session.save()
    return visitor.post("/join/confirm/", activation())


@pytest.mark.parametrize(("day", "month", "year", "words"), [
    (31, 2, 1985, "There is no day 31 in February 1985"),
    (30, 13, 1985, "The month must be a number from 1 to 12"),
    (17, 5, 85, "Enter the year with four digits"),
    ("x", 5, 1985, "Use numbers only"),
    ("", 5, 1985, "Enter the day you were born"),
    (1, 1, 2999, "Your date of birth cannot be in the future"),
])
def test_an_impossible_date_is_named_and_not_counted(world, newcomer, sent, day, month, year,
                                                     words):
    visitor = open_link(world, newcomer, sent)
    data = {**activation(), **dob(day, month, year)}
    response = visitor.post("/join/confirm/", data)
    assert f"Date of birth: {words}" in response.content.decode()
    assert Invitation.objects.get(patient=newcomer).failed_attempts == 0


def test_a_weak_password_is_refused_with_the_rules_words_and_nothing_typed_is_lost(
        world, newcomer, sent):
    visitor = open_link(world, newcomer, sent)
    response = visitor.post("/join/confirm/", activation(password="short"))
    page = response.content.decode()
    assert "This password is too short. It must contain at least 10 characters." in page
    assert 'value="newcomer1"' in page and 'value="17"' in page and 'value="1985"' in page
    common = visitor.post("/join/confirm/", activation(password="password123"))
    assert "This password is too common." in common.content.decode()
    newcomer.refresh_from_db()
    assert newcomer.portal_user is None
    assert Invitation.objects.get(patient=newcomer).failed_attempts == 0


def test_a_taken_username_is_refused(world, newcomer, sent):
    visitor = open_link(world, newcomer, sent)
    response = visitor.post("/join/confirm/", activation(username="Practitioner"))
    assert "Choose a username: This username is taken" in response.content.decode()


def test_a_patient_with_an_account_is_invited_again_and_keeps_it(world, sent):
    patient = world.p1  # has the "patient" account
    Patient.objects.filter(pk=patient.pk).update(email="p1@example.org", agrees_to_email=True)
    patient.refresh_from_db()
    visitor = open_link(world, patient, sent)
    page = visitor.get("/join/confirm/").content.decode()
    assert "patient" in page and 'name="username"' not in page
    response = visitor.post("/join/confirm/", {**activation(), "username": ""})
    assert response.status_code == 302
    user = User.objects.get(username="patient")
    assert user.check_password(GOOD_PASSWORD)
    assert User.objects.filter(grants__role=Role.PATIENT).count() == 1


# --- suspending -----------------------------------------------------------------------------


def test_a_suspended_patient_cannot_sign_in_until_restored(world, sent):
    patient_client = world.client("patient")
    assert patient_client.get("/portal/").status_code == 200
    staff_post(world, world.p1, {"do": "suspend"})
    assert patient_client.get("/portal/").status_code == 302  # signed out
    signed_in = Client().post("/accounts/login/", {"username": "patient", "password": PASSWORD})
    assert signed_in.status_code == 200  # the sign-in form again: refused
    summary = services.access_summary(world.p1)
    assert summary.has_account and not summary.active
    staff_post(world, world.p1, {"do": "restore"})
    again = Client().post("/accounts/login/", {"username": "patient", "password": PASSWORD})
    assert again.status_code == 302
    assert events(world.p1, "portal access suspended").exists()
    assert events(world.p1, "portal access restored").exists()


def test_suspending_voids_an_open_invitation(world, newcomer, sent):
    invite(world, newcomer, sent)
    staff_post(world, newcomer, {"do": "suspend"})
    response = Client().get(path_of(link_in(mail.outbox[-1].body)))
    assert b"This invitation no longer works" in response.content
    assert services.access_summary(newcomer).invitation is None


def test_a_prescriber_sees_the_page_without_buttons(world):
    page = world.client("prescriber").get(f"/patients/{world.p1.pk}/portal/")
    assert page.status_code == 200 and b"Suspend portal access" not in page.content
    assert staff_post(world, world.p1, {"do": "suspend"}, role="prescriber").status_code == 403


def test_a_patient_account_never_reaches_the_staff_pages(world):
    client = world.client("patient")
    for path in (f"/patients/{world.p1.pk}/portal/", f"/patients/{world.p1.pk}/portal/letter/"):
        assert client.get(path).status_code in (403, 404)
        assert client.post(path, {"do": "suspend"}).status_code in (403, 404)


# --- password resets -------------------------------------------------------------------------


@pytest.fixture
def patient_with_phone(world):
    Patient.objects.filter(pk=world.p1.pk).update(
        phone="07700 900555", agrees_to_sms=True, email="p1@example.org", agrees_to_email=True)
    world.p1.refresh_from_db()
    return world.p1


def code_in(body: str) -> str:
    return re.search(r"\b(\d{6})\b", body).group(1)


def test_a_patient_resets_their_password_by_text_code(world, patient_with_phone, sent,
                                                      locmem_sms):
    visitor = Client()
    response = sent(lambda: visitor.post("/join/forgot/", {"username": "patient",
                                                           "channel": "sms"}))
    assert response["Location"] == "/join/reset/code/"
    [(to, body)] = locmem_sms
    assert to == "07700 900555"
    page = visitor.get("/join/reset/code/").content.decode()
    assert 'value="patient"' in page  # the username is carried over
    done = visitor.post("/join/reset/code/", {"username": "patient", "code": code_in(body),
                                              "password1": GOOD_PASSWORD,
                                              "password2": GOOD_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/join/reset/done/"
    assert User.objects.get(username="patient").check_password(GOOD_PASSWORD)
    assert events(world.p1, "asked for by the patient, by text message").exists()
    assert events(world.p1, "reset with the code sent by text message").exists()
    # The code works once.
    again = visitor.post("/join/reset/code/", {"username": "patient", "code": code_in(body),
                                               "password1": "another long phrase 7",
                                               "password2": "another long phrase 7"})
    assert b"That code is not right" in again.content


def test_five_wrong_codes_end_the_code(world, patient_with_phone, sent, locmem_sms):
    visitor = Client()
    sent(lambda: visitor.post("/join/forgot/", {"username": "patient", "channel": "sms"}))
    right = code_in(locmem_sms[0][1])
    wrong = "000000" if right != "000000" else "111111"
    data = {"username": "patient", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    for _ in range(5):
        response = visitor.post("/join/reset/code/", {**data, "code": wrong})
        assert "The code from the text message: That code is not right" in \
            response.content.decode()
    late = visitor.post("/join/reset/code/", {**data, "code": right})
    assert b"That code is not right" in late.content
    assert not User.objects.get(username="patient").check_password(GOOD_PASSWORD)
    assert ResetCode.objects.get().failed_attempts == 5
    assert events(world.p1, "wrong code (5 of 5)").exists()


def test_a_reset_code_expires_after_15_minutes(world, patient_with_phone, sent, locmem_sms):
    visitor = Client()
    sent(lambda: visitor.post("/join/forgot/", {"username": "patient", "channel": "sms"}))
    reset = ResetCode.objects.get()
    assert reset.expires_at - reset.created_at == datetime.timedelta(minutes=15)
    ResetCode.objects.update(expires_at=timezone.now())
    response = visitor.post("/join/reset/code/", {
        "username": "patient", "code": code_in(locmem_sms[0][1]),
        "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert b"That code is not right" in response.content


def test_forgot_password_never_says_whether_an_account_exists(world, patient_with_phone, sent,
                                                              locmem_sms):
    pages = []
    for username in ("patient", "nobody-here", "practitioner"):
        visitor = Client()
        response = sent(lambda v=visitor, u=username: v.post(
            "/join/forgot/", {"username": u, "channel": "sms"}))
        pages.append((response.status_code, response["Location"]))
        followed = visitor.get(response["Location"]).content.decode()
        pages.append(followed.replace(f'value="{username}"', "").split("csrfmiddlewaretoken")[0])
        wrong = visitor.post("/join/reset/code/", {
            "username": username, "code": "123456", "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD}).content.decode()
        pages.append(wrong.replace(f'value="{username}"', "").split("csrfmiddlewaretoken")[0])
    for kind in range(3):
        assert pages[kind::3] == [pages[kind]] * 3
    assert len(locmem_sms) == 1  # only the patient's own account was sent a code


def test_a_patient_resets_their_password_from_an_emailed_link(world, patient_with_phone, sent):
    visitor = Client()
    response = sent(lambda: visitor.post("/join/forgot/", {"username": "patient",
                                                           "channel": "email"}))
    assert response.status_code == 200 and b"Check your email" in response.content
    [email] = mail.outbox
    link = path_of(re.search(r"https?://\S+/join/reset/\S+/", email.body).group(0))
    form = visitor.get(link, follow=True)
    assert b"Choose a new password" in form.content and b"new_password1" in form.content
    done = visitor.post(form.redirect_chain[-1][0], {"new_password1": GOOD_PASSWORD,
                                                     "new_password2": GOOD_PASSWORD})
    assert done.status_code == 302
    assert User.objects.get(username="patient").check_password(GOOD_PASSWORD)
    assert events(world.p1, "reset from the emailed link").exists()


def test_invitations_and_resets_name_the_service_by_its_everyday_name(
        world, patient_with_phone, newcomer, sent, locmem_sms):
    """Like every reminder: a service whose own name says what it does is never named by it
    in a text, an email or a letter; its everyday name is used, else "your service"."""
    world.org.name = "Riverside Drug and Alcohol Service"
    world.org.save()

    def everything_sent():
        invite(world, newcomer, sent, "sms")
        invite(world, newcomer, sent, "email")
        invite(world, newcomer, sent, "letter")
        for channel in ("sms", "email"):
            sent(lambda c=channel: staff_post(world, world.p1, {"do": "reset",
                                                                "reset-channel": c}))
        bodies = [b for _to, b in locmem_sms] + [m.body for m in mail.outbox]
        bodies += [m.body for m in Message.objects.filter(channel="letter")]
        assert len(bodies) == 5
        locmem_sms.clear()
        mail.outbox.clear()
        Message.objects.filter(channel="letter").delete()
        return bodies

    for body in everything_sent():
        assert words_that_tell(body, ["Riverside Drug and Alcohol Service"]) == [], body
        assert "your service" in body.lower()
        # A sentence that begins with the name begins with a capital.
        assert not re.search(r"(^|[.!?]\s+|\n)your service", body), body
    ServiceWording.objects.create(organisation=world.org, everyday_name="Riverside",
                                  other_names="RDAS")
    for body in everything_sent():
        assert words_that_tell(body, ["Riverside Drug and Alcohol Service", "RDAS"]) == []
        assert "Riverside" in body


def test_staff_send_a_reset_by_an_agreed_channel(world, patient_with_phone, sent, locmem_sms):
    sent(lambda: staff_post(world, world.p1, {"do": "reset", "reset-channel": "sms"}))
    assert len(locmem_sms) == 1
    assert events(world.p1, "portal password reset sent by staff, by text message").exists()
    Patient.objects.filter(pk=world.p1.pk).update(agrees_to_email=False)
    response = sent(lambda: staff_post(world, world.p1, {"do": "reset",
                                                         "reset-channel": "email"}))
    page = world.client("practitioner").get(response["Location"])
    assert b"has not agreed to be emailed" in page.content and mail.outbox == []


def test_no_reset_goes_to_a_patient_not_to_be_contacted(world, patient_with_phone, sent,
                                                       locmem_sms):
    Patient.objects.filter(pk=world.p1.pk).update(do_not_contact=True)
    for channel in ("sms", "email"):
        response = sent(lambda c=channel: staff_post(world, world.p1, {
            "do": "reset", "reset-channel": c}))
        page = world.client("practitioner").get(response["Location"])
        assert b"Do not contact&quot; is recorded" in page.content
        # Asked for on the public page: worded as ever, and nothing goes.
        sent(lambda c=channel: Client().post("/join/forgot/", {"username": "patient",
                                                                "channel": c}))
    assert mail.outbox == [] and locmem_sms == []
    assert not Message.objects.filter(patient=world.p1).exists()


def test_the_staff_page_shows_a_message_that_could_not_be_sent(world, newcomer, sent,
                                                               settings):
    settings.SMS_BACKEND = "tandem.outbox.sms.FailingBackend"
    invite(world, newcomer, sent, "sms")
    page = world.client("practitioner").get(f"/patients/{newcomer.pk}/portal/").content
    assert b"Could not be sent" in page and b"refused" in page


# --- the patient's record ----------------------------------------------------------------------


def test_consent_to_email_needs_an_address_on_the_patient_form(world):
    from tandem.patients.forms import PatientForm

    p = world.p1
    data = {"service_id": p.service_id, "given_name": p.given_name, "family_name":
            p.family_name, "date_of_birth": "1985-05-17", "team": p.team_id,
            "preferred_contact": "phone", "agrees_to_email": "on", "agrees_to_sms": "on",
            "version": p.version}
    form = PatientForm(data, instance=p, organisation=world.org, teams={p.team_id})
    assert not form.is_valid()
    assert form.errors["agrees_to_email"] == ["Enter the email address the patient agreed to."]
    assert form.errors["agrees_to_sms"] == ["Enter the phone number the patient agreed to."]


def test_the_summary_of_a_patient_never_invited(world):
    summary = services.access_summary(world.p2)
    assert (summary.has_account, summary.active, summary.invitation) == (False, False, None)
    assert summary.words == "No portal access"


def test_services_refuse_without_consent_for_any_caller(world, newcomer):
    Patient.objects.filter(pk=newcomer.pk).update(agrees_to_sms=False)
    newcomer.refresh_from_db()
    actor = Actor(user=world.users["practitioner"], role="practitioner")
    with pytest.raises(services.Refused):
        services.invite(actor, newcomer, "sms", site="https://t.example")


def test_the_letters_square_code_opens_the_invitation(world, newcomer, sent):
    response = invite(world, newcomer, sent, "letter")
    letter = world.client("practitioner").get(response["Location"]).content.decode()
    code = re.search(r'class="letter-big">([A-Z0-9-]+)<', letter).group(1)
    assert f"/join/?code={code}" in letter.replace("&amp;", "&") or "<svg" in letter
    opened = Client().get(f"/join/?code={code}")
    assert opened.status_code == 302 and opened["Location"] == "/join/confirm/"
    wrong = Client().get("/join/?code=ZZZZ-ZZZZ")
    assert b"Your code: This code is not right" in wrong.content


# --- hardening: throttles, the worker, secrets, deploy settings ----------------------------------


def strip(page: str, name: str) -> str:
    """A page without its username and form token, to compare two visitors' pages."""
    return page.replace(f'value="{name}"', "").split("csrfmiddlewaretoken")[0]


def forgot(username="patient", channel="sms", address="10.0.0.7"):
    return Client(REMOTE_ADDR=address).post("/join/forgot/", {"username": username,
                                                              "channel": channel})


def reset_data(code, username="patient"):
    return {"username": username, "code": code, "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD}


def test_wrong_invitation_codes_are_throttled_and_logged_by_address(world, newcomer, sent,
                                                                     caplog):
    invite(world, newcomer, sent, "letter")
    letter = Message.objects.get(patient=newcomer).body
    code = outbox.SECRET.findall(letter)[0]
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(services.THROTTLES["join-code"]):
        assert b"This code is not right" in guesser.post("/join/", {"code": "ZZZZ-ZZZZ"}).content
    assert "wrong portal invitation code from 203.0.113.9" in caplog.text
    stopped = guesser.post("/join/", {"code": code})  # even the right code, from there
    assert stopped.status_code == 429 and b"Too many tries from this connection" in \
        stopped.content
    elsewhere = Client(REMOTE_ADDR="198.51.100.4").post("/join/", {"code": code})
    assert elsewhere.status_code == 302
    assert events(newcomer, "portal invitation opened (link or code)").exists()


def test_reset_requests_are_throttled_by_address(world, patient_with_phone):
    for _ in range(services.THROTTLES["forgot"]):
        assert forgot("nobody-here").status_code == 302
    again = forgot("patient")
    assert again.status_code == 429 and b"Too many tries" in again.content
    assert not Message.objects.filter(kind="password-reset").exists()


def test_wrong_reset_codes_are_throttled_by_address(world, patient_with_phone):
    guesser = Client(REMOTE_ADDR="203.0.113.10")
    for n in range(services.THROTTLES["reset-code"]):
        guesser.post("/join/reset/code/", reset_data(f"{n:06d}", "nobody-here"))
    stopped = guesser.post("/join/reset/code/", reset_data("123456", "nobody-here"))
    assert stopped.status_code == 429 and b"Too many tries" in stopped.content


def test_a_patients_own_resets_go_by_the_worker_not_inside_the_request(
        world, patient_with_phone, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    for username in ("patient", "nobody-here"):
        with django_capture_on_commit_callbacks(execute=True):
            forgot(username, "email", address=f"10.1.0.{len(username)}")
    assert mail.outbox == []  # nothing sent while the visitor waited
    assert Message.objects.get(kind="password-reset").status == "queued"
    # The worker is woken either way, by one task while one waits (not one per request).
    assert DBTaskResult.objects.filter(task_path__endswith="retry_messages").count() == 1
    assert retry_messages.call() == {"sent": 1, "failed": 0}
    assert [m.to for m in mail.outbox] == [["p1@example.org"]]


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_a_patients_own_resets_are_one_a_minute_and_five_a_day(world, patient_with_phone, sent,
                                                                channel):
    sent(lambda: forgot(channel=channel))
    sent(lambda: forgot(channel=channel))  # within the minute: nothing more
    resets = Message.objects.filter(kind="password-reset")
    assert resets.count() == 1
    assert events(world.p1, "not sent: another was sent less than a minute ago").exists()
    for _ in range(6):
        resets.update(created_at=F("created_at") - datetime.timedelta(minutes=2))
        ResetCode.objects.update(created_at=F("created_at") - datetime.timedelta(minutes=2))
        sent(lambda: forgot(channel=channel))
    assert resets.count() == services.RESETS_A_DAY
    assert events(world.p1, "not sent: 5 were sent in the last day").exists()


def test_an_older_text_code_still_works_after_a_newer_one(world, patient_with_phone, sent,
                                                          locmem_sms):
    sent(lambda: forgot())
    Message.objects.update(created_at=F("created_at") - datetime.timedelta(minutes=2))
    sent(lambda: forgot())
    first, second = (code_in(body) for _, body in locmem_sms)
    done = Client().post("/join/reset/code/", reset_data(first))
    assert done.status_code == 302
    # Once a code has worked, the other open codes stop.
    later = Client().post("/join/reset/code/", reset_data(second))
    assert b"That code is not right" in later.content


def test_wrong_codes_across_an_accounts_codes_stop_its_codes_for_a_day(
        world, patient_with_phone, sent, locmem_sms):
    for _ in range(2):
        Message.objects.update(created_at=F("created_at") - datetime.timedelta(minutes=2))
        sent(lambda: forgot())
        right = code_in(locmem_sms[-1][1])
        wrong = "000000" if right != "000000" else "111111"
        for _ in range(services.RESET_CODE_TRIES):
            Client().post("/join/reset/code/", reset_data(wrong))
    Message.objects.update(created_at=F("created_at") - datetime.timedelta(minutes=2))
    sent(lambda: forgot())
    assert len(locmem_sms) == 2  # no new code is sent while codes are stopped
    late = Client().post("/join/reset/code/", reset_data(code_in(locmem_sms[-1][1])))
    words = late.content.decode()
    assert "After 10 wrong codes in a day, codes stop working for that username" in words
    assert not User.objects.get(username="patient").check_password(GOOD_PASSWORD)
    assert events(world.p1, "codes stopped for a day").exists()
    # The same words for a username without an account.
    nobody = Client().post("/join/reset/code/", reset_data("123456", "nobody-here"))
    assert strip(nobody.content.decode(), "nobody-here") == strip(words, "patient")
    actor = Actor(user=world.users["practitioner"], role="practitioner")
    with pytest.raises(services.Refused, match="Codes by text message are stopped"):
        services.send_reset(actor, world.p1, "sms", site="https://t.example")


def test_links_from_the_public_pages_need_the_site_address(world, patient_with_phone, sent,
                                                           settings):
    settings.SITE_URL = ""
    sent(lambda: Client(HTTP_HOST="localhost").post("/join/forgot/", {
        "username": "patient", "channel": "email"}))
    assert mail.outbox == [] and not Message.objects.exists()
    assert events(world.p1, "TANDEM_SITE_URL is not set").exists()
    settings.DEMO = True  # the demo may use the address of the request
    Message.objects.all().delete()
    sent(lambda: Client(HTTP_HOST="localhost").post("/join/forgot/", {
        "username": "patient", "channel": "email"}))
    assert "http://localhost/join/reset/" in mail.outbox[0].body


def test_a_suspended_patients_emailed_link_no_longer_works(world, patient_with_phone, sent):
    sent(lambda: forgot(channel="email"))
    link = path_of(re.search(r"https?://\S+/join/reset/\S+/", mail.outbox[0].body).group(0))
    staff_post(world, world.p1, {"do": "suspend"})
    page = Client().get(link, follow=True)
    assert b"This link has already been used or has expired" in page.content
    assert b"new_password1" not in page.content


def test_a_suspended_patient_cannot_use_a_text_code(world, patient_with_phone, sent, locmem_sms):
    sent(lambda: forgot())
    staff_post(world, world.p1, {"do": "suspend"})
    response = Client().post("/join/reset/code/", reset_data(code_in(locmem_sms[0][1])))
    assert b"That code is not right" in response.content
    assert not User.objects.get(username="patient").check_password(GOOD_PASSWORD)


def test_the_username_shows_only_once_the_date_of_birth_matches(world, sent):
    patient = world.p1  # has the "patient" account
    Patient.objects.filter(pk=patient.pk).update(email="p1@example.org", agrees_to_email=True)
    visitor = open_link(world, patient, sent)
    before = visitor.get("/join/confirm/").content.decode()
    assert "You already have an account" in before and "<strong>patient</strong>" not in before
    wrong = visitor.post("/join/confirm/", {**activation(born=datetime.date(1990, 1, 1)),
                                            "username": ""}).content.decode()
    assert "<strong>patient</strong>" not in wrong
    right = visitor.post("/join/confirm/", {**activation(password="short"),
                                            "username": ""}).content.decode()
    assert "This password is too short" in right and "<strong>patient</strong>" in right


def test_a_taken_username_is_said_only_after_the_date_of_birth(world, newcomer, sent):
    visitor = open_link(world, newcomer, sent)
    wrong = visitor.post("/join/confirm/", activation(born=datetime.date(1990, 1, 1),
                                                      username="Practitioner"))
    assert b"This username is taken" not in wrong.content
    right = visitor.post("/join/confirm/", activation(username="Practitioner",
                                                      password="short"))
    assert b"This username is taken" in right.content


def test_a_username_made_at_the_same_moment_is_said_to_be_taken(world, newcomer, sent,
                                                                 monkeypatch):
    visitor = open_link(world, newcomer, sent)
    monkeypatch.setattr(services, "username_problem", lambda username: None)  # the race
    response = visitor.post("/join/confirm/", activation(username="PRACTITIONER"))
    assert response.status_code == 200
    assert "Choose a username: This username is taken" in response.content.decode()
    newcomer.refresh_from_db()
    assert newcomer.portal_user is None


def test_usernames_are_unique_whatever_the_case(world):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="PATIENT", password=PASSWORD)


@pytest.mark.parametrize("year", ["0000", "0001", "1899"])
def test_a_year_of_birth_long_ago_is_named(world, newcomer, sent, year):
    visitor = open_link(world, newcomer, sent)
    response = visitor.post("/join/confirm/", {**activation(), **dob(17, 5, year)})
    assert response.status_code == 200
    assert "Date of birth: Check the year: it must be 1900 or later" in \
        response.content.decode()


def test_voiding_or_using_an_invitation_removes_its_unsent_secrets(world, newcomer, sent):
    invite(world, newcomer, sent, "letter")
    letter = Message.objects.get(patient=newcomer)
    code = outbox.SECRET.findall(letter.body)[0]
    invite(world, newcomer, sent, "email")  # voids the letter's invitation
    letter.refresh_from_db()
    assert letter.status == "withdrawn" and code not in letter.body
    # A used invitation's letter, never marked printed, loses its code too.
    invite(world, newcomer, sent, "letter")
    second = Message.objects.filter(patient=newcomer, channel="letter").order_by(
        "-created_at").first()
    typed = outbox.SECRET.findall(second.body)[0]
    visitor = Client()
    visitor.post("/join/", {"code": typed})
    assert visitor.post("/join/confirm/", activation()).status_code == 302
    second.refresh_from_db()
    assert second.status == "withdrawn" and typed not in second.body


def test_an_expired_letters_code_goes_when_the_patient_is_looked_at(world, newcomer, sent):
    invite(world, newcomer, sent, "letter")
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    world.client("practitioner").get(f"/patients/{newcomer.pk}/portal/")
    letter = Message.objects.get(patient=newcomer)
    assert letter.status == "withdrawn" and not outbox.SECRET.findall(letter.body)


def test_texts_are_refused_when_only_written_to_files(world, newcomer, settings):
    settings.SMS_BACKEND = "tandem.outbox.sms.FileBackend"
    settings.DEBUG, settings.DEMO = False, False
    assert services.channels(newcomer)["sms"] == "Text messages are not set up for this service."
    settings.SMS_BACKEND = ""
    assert services.channels(newcomer)["sms"] == "Text messages are not set up for this service."
    settings.SMS_BACKEND, settings.DEMO = "tandem.outbox.sms.FileBackend", True
    assert services.channels(newcomer)["sms"] is None


def test_the_deploy_checks_refuse_files_and_a_missing_site_address(settings):
    from tandem.outbox.checks import messages_are_really_sent
    from tandem.portal_access.checks import site_url_is_set

    settings.DEBUG, settings.DEMO, settings.SITE_URL = False, False, ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.SMS_BACKEND = "tandem.outbox.sms.FileBackend"
    assert {m.id for m in messages_are_really_sent()} == {"outbox.E001", "outbox.E002"}
    assert [m.id for m in site_url_is_set()] == ["portal_access.E001"]
    settings.DEMO = True
    assert messages_are_really_sent() == [] and site_url_is_set() == []
    settings.DEMO = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.SMS_BACKEND, settings.SITE_URL = "", "https://tandem.example.org"
    assert messages_are_really_sent() == [] and site_url_is_set() == []


# --- the second review: throttles by network, suspension ends resets, the demo -------------


def test_ipv6_visitors_are_throttled_by_their_64_network_ipv4_by_address(world,
                                                                        patient_with_phone):
    for n in range(services.THROTTLES["forgot"]):
        assert forgot("nobody-here", address=f"2001:db8:1:2::{n + 1:x}").status_code == 302
    same_network = forgot("patient", address="2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert same_network.status_code == 429
    assert forgot("nobody-here", address="2001:db8:1:3::1").status_code == 302
    assert services.throttled_as("2001:DB8:1:2::9") == "2001:db8:1:2::/64"
    assert services.throttled_as("::ffff:203.0.113.7") == "203.0.113.7"
    assert services.throttled_as("203.0.113.7") == "203.0.113.7"
    assert services.throttled_as("203.0.113.8") != services.throttled_as("203.0.113.7")


def test_suspending_ends_reset_codes_links_and_unsent_reset_messages(
        world, patient_with_phone, sent, locmem_sms, django_capture_on_commit_callbacks):
    visitor = Client()
    sent(lambda: visitor.post("/join/forgot/", {"username": "patient", "channel": "sms"}))
    code = code_in(locmem_sms[0][1])
    Message.objects.update(created_at=F("created_at") - datetime.timedelta(minutes=2))
    sent(lambda: visitor.post("/join/forgot/", {"username": "patient", "channel": "email"}))
    link = path_of(re.search(r"https?://\S+/join/reset/\S+/", mail.outbox[0].body).group(0))
    Message.objects.update(created_at=F("created_at") - datetime.timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):  # left for the worker, not run
        visitor.post("/join/forgot/", {"username": "patient", "channel": "email"})
    waiting = Message.objects.get(kind="password-reset", status="queued")
    staff_post(world, world.p1, {"do": "suspend"})
    staff_post(world, world.p1, {"do": "restore"})
    waiting.refresh_from_db()
    assert waiting.status == "withdrawn" and "/join/reset/" not in waiting.body
    late = visitor.post("/join/reset/code/", reset_data(code))
    assert b"That code is not right" in late.content
    assert b"new_password1" not in visitor.get(link, follow=True).content
    assert not User.objects.get(username="patient").check_password(GOOD_PASSWORD)
    assert events(world.p1, "1 reset code(s) ended; 1 reset message(s) not yet sent").exists()


def test_in_the_demo_a_patients_own_reset_is_sent_without_a_worker(
        world, patient_with_phone, settings, django_capture_on_commit_callbacks):
    settings.DEMO = True
    with django_capture_on_commit_callbacks(execute=True):
        forgot(channel="email")
    assert [m.to for m in mail.outbox] == [["p1@example.org"]]
    assert Message.objects.get(kind="password-reset").status == "sent"
