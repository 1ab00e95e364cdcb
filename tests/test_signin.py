import importlib

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import PASSWORD


def test_production_hashes_passwords_with_argon2():
    settings = importlib.import_module("tandem.settings")
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_password_validators_are_on(world):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        validate_password("password1")
    with pytest.raises(ValidationError):
        validate_password("12345678901")


def test_repeated_failures_lock_the_account_even_with_the_right_password(world):
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": "practitioner", "password": "wrong"})
    response = client.post("/accounts/login/",
                           {"username": "practitioner", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_wrong_password_message_does_not_say_which_part_was_wrong(world):
    response = Client().post("/accounts/login/", {"username": "practitioner", "password": "x"})
    assert b"did not match" in response.content


def test_activity_moves_the_idle_expiry_forward_at_most_once_a_minute(world, monkeypatch):
    from django.contrib.sessions.models import Session

    from tandem.accounts import middleware

    assert settings.SESSION_COOKIE_AGE == 30 * 60
    clock = [1_000_000.0]
    monkeypatch.setattr(middleware, "_clock", lambda: clock[0])
    client = world.client("practitioner")
    client.get("/patients/")
    first = Session.objects.get().expire_date
    clock[0] += 30
    client.get("/patients/")
    assert Session.objects.get().expire_date == first  # not written again within the minute
    clock[0] += 31
    client.get("/patients/")
    assert Session.objects.get().expire_date > first  # activity keeps the session alive


def test_security_headers_and_csp_without_inline_script(world):
    response = world.client("practitioner").get("/patients/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert b"<script" not in response.content
    assert b"style=" not in response.content


def test_forms_reject_missing_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["service_admin"])
    assert client.post("/manage/teams/new/", {"name": "X"}).status_code == 403


def test_https_settings_follow_configuration():
    import os
    import subprocess
    import sys

    code = ("import tandem.settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
            "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS)")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TANDEM_", "DJANGO_"))}
    env["TANDEM_DATA_DIR"] = os.environ["TANDEM_DATA_DIR"]
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "True", "True", "31536000"]


def test_idle_session_is_signed_out(world):
    import datetime

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    client = world.client("practitioner")
    assert client.get("/patients/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    response = client.get("/patients/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_guesses_from_elsewhere_do_not_lock_a_clinician_out_at_their_own_address(world):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(6):
        attacker.post("/accounts/login/", {"username": "practitioner", "password": "wrong"})
    assert attacker.post("/accounts/login/", {"username": "practitioner",
                                              "password": PASSWORD}).status_code == 429
    clinician = Client(REMOTE_ADDR="198.51.100.20")
    response = clinician.post("/accounts/login/", {"username": "practitioner",
                                                   "password": PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in clinician.session


def test_an_address_guessing_across_many_usernames_is_locked(world):
    from tandem.accounts.lockout import ADDRESS_LIMIT, PAIR_LIMIT

    sprayer = Client(REMOTE_ADDR="203.0.113.10")
    names = [f"someone{n}" for n in range(ADDRESS_LIMIT // (PAIR_LIMIT - 1) + 1)]
    for name in names:  # never reaching one username's own limit
        for _ in range(PAIR_LIMIT - 1):
            sprayer.post("/accounts/login/", {"username": name, "password": "wrong"})
    # locked at this address even with a right password for an untouched username
    response = sprayer.post("/accounts/login/", {"username": "prescriber", "password": PASSWORD})
    assert response.status_code == 429 and "_auth_user_id" not in sprayer.session
    # and nobody else is
    assert Client(REMOTE_ADDR="198.51.100.21").post(
        "/accounts/login/", {"username": "prescriber", "password": PASSWORD}).status_code == 302


def test_signing_into_ones_own_account_does_not_clear_guesses_at_anothers(world):
    """A sign-in clears only the signed-in person's own failures at that address: an attacker
    who signs into an account of their own between guesses still reaches the limit."""
    from tandem.accounts.lockout import PAIR_LIMIT

    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(PAIR_LIMIT - 1):
        assert attacker.post("/accounts/login/", {"username": "practitioner",
                                                  "password": "wrong"}).status_code == 200
    own = Client(REMOTE_ADDR="203.0.113.9")
    assert own.post("/accounts/login/", {"username": "patient",
                                         "password": PASSWORD}).status_code == 302
    attacker.post("/accounts/login/", {"username": "practitioner", "password": "wrong"})
    assert attacker.post("/accounts/login/", {"username": "practitioner",
                                              "password": PASSWORD}).status_code == 429


def test_signing_into_ones_own_account_does_not_clear_an_addresss_guesses(world):
    from tandem.accounts.lockout import ADDRESS_LIMIT, PAIR_LIMIT

    sprayer = Client(REMOTE_ADDR="203.0.113.10")
    guesses = 0
    for n in range(ADDRESS_LIMIT):
        for _ in range(PAIR_LIMIT - 1):
            if guesses == ADDRESS_LIMIT - 1:
                break
            sprayer.post("/accounts/login/", {"username": f"someone{n}", "password": "wrong"})
            guesses += 1
    assert Client(REMOTE_ADDR="203.0.113.10").post("/accounts/login/", {
        "username": "patient", "password": PASSWORD}).status_code == 302
    sprayer.post("/accounts/login/", {"username": "someone-else", "password": "wrong"})
    response = sprayer.post("/accounts/login/", {"username": "prescriber", "password": PASSWORD})
    assert response.status_code == 429


def test_a_person_who_mistyped_and_then_signed_in_starts_afresh(world):
    from tandem.accounts.lockout import PAIR_LIMIT

    person = Client(REMOTE_ADDR="198.51.100.30")
    for _ in range(PAIR_LIMIT - 1):
        person.post("/accounts/login/", {"username": "practitioner", "password": "typo"})
    assert person.post("/accounts/login/", {"username": "practitioner",
                                            "password": PASSWORD}).status_code == 302
    later = Client(REMOTE_ADDR="198.51.100.30")
    later.post("/accounts/login/", {"username": "practitioner", "password": "typo"})
    assert later.post("/accounts/login/", {"username": "practitioner",
                                           "password": PASSWORD}).status_code == 302
