"""A service admin manages staff accounts without being able to take one over unseen: nobody
changes their own roles, an admin never sets a password (the person gets Django's reset email),
patient portal accounts never pass through the staff form and can never hold a staff role,
and every change is an audit event saying what changed."""

import datetime
import importlib
import io
import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from tandem.accounts.models import ApiToken, Role, RoleGrant, User
from tandem.audit.models import AuditEvent
from tests.conftest import PASSWORD, make_user


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a request left for after its commit (its emails) when the block ends, as a
    real commit would (the test's own transaction never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def signs_in(username, password):
    client = Client()
    client.post("/accounts/login/", {"username": username, "password": password})
    return "_auth_user_id" in client.session


def form_data(user, **changes):
    """What the user's edit page posts as it stands now (its version included)."""
    user = User.objects.get(pk=user.pk)
    grants = list(user.grants.all())
    data = {"username": user.username, "first_name": user.first_name,
            "last_name": user.last_name, "email": user.email or f"{user.username}@example.org",
            "is_active": "on", "roles": sorted({g.role for g in grants}),
            "teams": sorted({g.team_id for g in grants if g.team_id}),
            "version": getattr(user, "version", 1)}
    data.update(changes)
    return data


def grants_of(user):
    return set(RoleGrant.objects.filter(user=user).values_list("role", "team"))


def events_about(user):
    return list(AuditEvent.objects.filter(object_type="user", object_id=str(user.pk))
                .order_by("seq"))


def test_an_admin_cannot_give_themselves_roles_or_teams(world):
    admin = world.users["service_admin"]
    client = world.client("service_admin")
    page = client.get(f"/manage/users/{admin.pk}/").content.decode()
    assert 'name="roles"' not in page and 'name="teams"' not in page
    response = client.post(f"/manage/users/{admin.pk}/", form_data(
        admin, roles=["service_admin", "team_lead"], teams=[world.team_a.pk, world.team_b.pk]))
    assert response.status_code == 200
    assert "You cannot change your own roles or teams" in response.content.decode()
    assert grants_of(admin) == {("service_admin", None)}
    # and the admin still opens no patient of team A
    assert world.client("service_admin").get(f"/patients/{world.p2.pk}/").status_code in (403,
                                                                                           404)


def test_granting_a_clinical_role_is_audited_with_before_and_after(world):
    user = world.users["practitioner"]
    response = world.client("service_admin").post(f"/manage/users/{user.pk}/", form_data(
        user, roles=["practitioner", "team_lead"], teams=[world.team_a.pk, world.team_b.pk]))
    assert response.status_code == 302
    assert grants_of(user) == {("practitioner", world.team_a.pk), ("practitioner", world.team_b.pk),
                               ("team_lead", world.team_a.pk), ("team_lead", world.team_b.pk)}
    event = events_about(user)[-1]
    assert event.action == "update" and event.actor == world.users["service_admin"]
    assert "roles practitioner→practitioner,team_lead" in event.detail
    assert "teams Team A→Team A,Team B" in event.detail


def test_the_staff_form_never_sets_a_password(world):
    user = world.users["practitioner"]
    client = world.client("service_admin")
    page = client.get(f"/manage/users/{user.pk}/").content.decode()
    assert 'type="password"' not in page and "Send a password reset" in page
    client.post(f"/manage/users/{user.pk}/", form_data(
        user, password1="attacker-chosen-passphrase", password2="attacker-chosen-passphrase"))
    assert not signs_in("practitioner", "attacker-chosen-passphrase")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def reset_link(message):
    return re.search(r"https?://[^/\s]+(/\S+/)", message.body).group(1)


def test_an_admin_sends_a_password_reset_and_the_person_sets_their_own(world, committed):
    user = world.users["practitioner"]
    User.objects.filter(pk=user.pk).update(email="prac@example.org")
    with committed():
        response = world.client("service_admin").post(f"/manage/users/{user.pk}/password-reset/")
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["prac@example.org"]
    assert any(e.detail.startswith("password reset sent") for e in events_about(user))
    person = Client()
    form_page = person.get(reset_link(mail.outbox[0]), follow=True)
    assert form_page.status_code == 200 and 'name="new_password1"' in form_page.content.decode()
    done = person.post(form_page.redirect_chain[-1][0], {
        "new_password1": "my-own-new-passphrase", "new_password2": "my-own-new-passphrase"})
    assert done.status_code == 302
    assert signs_in("practitioner", "my-own-new-passphrase")
    assert events_about(user)[-1].detail == (
        "password set from the link emailed to prac@example.org (sent at service_admin's "
        "request)")


def test_a_new_user_is_emailed_to_set_their_own_password(world, committed):
    client = world.client("service_admin")
    with committed():
        response = client.post("/manage/users/new/", {
            "username": "newbie", "first_name": "New", "last_name": "Person",
            "email": "newbie@example.org", "is_active": "on", "roles": ["prescriber"],
            "password1": "a-long-unusual-passphrase", "password2": "a-long-unusual-passphrase"})
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert not user.has_usable_password()
    assert [m.to for m in mail.outbox] == [["newbie@example.org"]]
    assert "set your password" in mail.outbox[0].subject.lower()
    assert events_about(user)[0].action == "create"
    assert "roles —→prescriber" in events_about(user)[0].detail


def test_a_new_user_needs_an_email_address_for_their_link(world):
    response = world.client("service_admin").post("/manage/users/new/", {
        "username": "newbie", "first_name": "New", "last_name": "Person", "is_active": "on",
        "roles": ["auditor"]})
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not User.objects.filter(username="newbie").exists()


def test_changing_someones_email_tells_the_old_address(world, committed):
    user = world.users["prescriber"]
    User.objects.filter(pk=user.pk).update(email="old@example.org")
    user.refresh_from_db()
    with committed():
        world.client("service_admin").post(f"/manage/users/{user.pk}/",
                                           form_data(user, email="new@example.org"))
    assert [m.to for m in mail.outbox] == [["old@example.org"]]
    assert "new@example.org" in mail.outbox[0].body
    assert "email old@example.org→new@example.org" in events_about(user)[-1].detail


def test_patient_accounts_are_not_listed_or_edited_as_staff(world):
    patient = world.users["patient"]
    client = world.client("service_admin")
    listing = client.get("/manage/users/").content.decode()
    assert f"/manage/users/{patient.pk}/" not in listing
    assert client.get(f"/manage/users/{patient.pk}/").status_code == 404
    response = client.post(f"/manage/users/{patient.pk}/", form_data(
        patient, roles=["auditor"]))
    assert response.status_code == 404
    assert client.post(f"/manage/users/{patient.pk}/password-reset/").status_code == 404
    assert grants_of(patient) == {("patient", None)}


def test_a_portal_account_can_never_hold_a_staff_role(world):
    patient = world.users["patient"]
    with pytest.raises(ValidationError):
        RoleGrant.objects.create(organisation=world.org, user=patient, role=Role.AUDITOR)
    with pytest.raises(ValidationError):
        RoleGrant.objects.bulk_create([RoleGrant(organisation=world.org, user=patient,
                                                 role=Role.PRACTITIONER, team=world.team_a)])
    staff = world.users["auditor"]
    with pytest.raises(ValidationError):
        RoleGrant.objects.create(organisation=world.org, user=staff, role=Role.PATIENT)
    grant = RoleGrant.objects.get(user=staff)
    with pytest.raises(ValidationError):
        RoleGrant.objects.filter(pk=grant.pk).update(user=patient)
    assert grants_of(patient) == {("patient", None)} and grants_of(staff) == {("auditor", None)}
    # both kinds in one batch, for a new account, are refused as well
    fresh = make_user(world.org, "fresh")
    with pytest.raises(ValidationError):
        RoleGrant.objects.bulk_create([
            RoleGrant(organisation=world.org, user=fresh, role=Role.PATIENT),
            RoleGrant(organisation=world.org, user=fresh, role=Role.AUDITOR)])
    assert grants_of(fresh) == set()


def test_team_changes_and_deactivation_are_audited(world):
    user = world.users["practitioner_b"]
    client = world.client("service_admin")
    client.post(f"/manage/users/{user.pk}/", form_data(user, teams=[world.team_a.pk]))
    client.post(f"/manage/users/{user.pk}/", form_data(user, teams=[world.team_a.pk],
                                                       is_active=""))
    details = [e.detail for e in events_about(user)]
    assert any("teams Team B→Team A" in p for p in details)
    assert any("active yes→no" in p for p in details)


def test_team_edits_are_audited(world):
    client = world.client("service_admin")
    client.post(f"/manage/teams/{world.team_b.pk}/", {"name": "Team Bee", "version": 1})
    event = AuditEvent.objects.filter(object_type="team").latest("seq")
    assert event.object_id == str(world.team_b.pk) and "name Team B→Team Bee" in event.detail


# Lost updates: a form opened before someone else's save saves nothing.

def test_a_stale_user_form_does_not_undo_a_deactivation_or_restore_roles(world):
    victim = world.users["practitioner"]
    first = world.client("service_admin")
    second = Client()
    second.force_login(make_user(world.org, "admin2", Role.SERVICE_ADMIN))
    opened = form_data(victim)  # the second admin opens the form
    assert first.post(f"/manage/users/{victim.pk}/", form_data(
        victim, is_active="", roles=["auditor"], teams=[])).status_code == 302
    response = second.post(f"/manage/users/{victim.pk}/", dict(opened, last_name="Corrected"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Someone else changed this record while you were editing it" in page
    changed = {c.label: (c.saved_text, c.yours_text) for c in response.context["stale"].changes}
    assert changed["Active"] == ("No", "Yes")
    assert changed["Roles"] == ("Auditor", "Practitioner")
    assert changed["Teams"] == ("—", "Team A")
    victim.refresh_from_db()
    assert not victim.is_active and victim.last_name == "Tester"
    assert grants_of(victim) == {("auditor", None)}
    # the form comes back at the current version with what was typed: saving again replaces
    form = response.context["form"]
    assert form["version"].value() == str(victim.version)
    assert second.post(f"/manage/users/{victim.pk}/", dict(
        opened, last_name="Corrected", version=victim.version)).status_code == 302
    victim.refresh_from_db()
    assert victim.is_active and victim.last_name == "Corrected"


def test_a_user_form_posted_without_its_version_saves_nothing(world):
    victim = world.users["practitioner"]
    data = form_data(victim, is_active="", roles=["auditor"], teams=[])
    del data["version"]
    response = world.client("service_admin").post(f"/manage/users/{victim.pk}/", data)
    assert response.status_code == 200
    victim.refresh_from_db()
    assert victim.is_active and grants_of(victim) == {("practitioner", world.team_a.pk)}


def test_a_stale_team_form_saves_nothing(world):
    team = world.team_b
    client = world.client("service_admin")
    version = getattr(team, "version", 1)
    assert client.post(f"/manage/teams/{team.pk}/", {"name": "Team Bee",
                                                     "version": version}).status_code == 302
    response = client.post(f"/manage/teams/{team.pk}/", {"name": "Team Sea",
                                                         "version": version})
    assert response.status_code == 200
    assert "Someone else changed this record" in response.content.decode()
    team.refresh_from_db()
    assert team.name == "Team Bee"
    assert client.post(f"/manage/teams/{team.pk}/", {"name": "Team Sea"}).status_code == 200
    team.refresh_from_db()
    assert team.name == "Team Bee"


# Taking over an account through its email address.

def test_every_staff_account_has_an_email_or_is_shown_needing_one(world):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError):
        call_command("createadmin", username="boss", organisation="New Service",
                     password="a-long-unusual-passphrase")
    assert not User.objects.filter(username="boss").exists()
    listing = world.client("service_admin").get("/manage/users/").content.decode()
    assert "No email address" in listing  # the world's accounts have none
    page = world.client("service_admin").get(
        f"/manage/users/{world.users['prescriber'].pk}/").content.decode()
    assert "has no email address" in page


def test_after_an_admin_changes_an_address_no_reset_goes_to_it_for_a_day(world, committed):
    victim = world.users["prescriber"]
    User.objects.filter(pk=victim.pk).update(email="victim@example.org")
    admin = world.client("service_admin")
    with committed():
        admin.post(f"/manage/users/{victim.pk}/", form_data(victim,
                                                            email="admin-own@example.org"))
        response = admin.post(f"/manage/users/{victim.pk}/password-reset/", follow=True)
    assert [m.to for m in mail.outbox] == [["victim@example.org"]]  # told; no reset link
    page = response.content.decode()
    assert ("The email address was changed less than 24 hours ago; the old address has been "
            "told. A reset can be sent after") in page
    assert not any(e.detail.startswith("password reset sent") for e in events_about(victim))
    # a day later it can be sent
    User.objects.filter(pk=victim.pk).update(
        email_changed_at=timezone.now() - datetime.timedelta(hours=24, minutes=1))
    with committed():
        admin.post(f"/manage/users/{victim.pk}/password-reset/")
    assert mail.outbox[-1].to == ["admin-own@example.org"]


def test_an_address_added_where_there_was_none_waits_a_day_too(world, committed):
    victim = world.users["prescriber"]
    assert victim.email == ""
    admin = world.client("service_admin")
    with committed():
        admin.post(f"/manage/users/{victim.pk}/", form_data(victim,
                                                            email="admin-own@example.org"))
        response = admin.post(f"/manage/users/{victim.pk}/password-reset/", follow=True)
    assert mail.outbox == []
    assert "less than 24 hours ago" in response.content.decode()


def test_setting_a_password_from_a_new_accounts_link_is_audited_truly(world, committed):
    with committed():
        world.client("service_admin").post("/manage/users/new/", {
            "username": "newbie", "first_name": "New", "last_name": "Person",
            "email": "newbie@example.org", "is_active": "on", "roles": ["prescriber"]})
    user = User.objects.get(username="newbie")
    person = Client()
    form_page = person.get(reset_link(mail.outbox[0]), follow=True)
    person.post(form_page.redirect_chain[-1][0], {
        "new_password1": "my-own-new-passphrase", "new_password2": "my-own-new-passphrase"})
    assert events_about(user)[-1].detail == (
        "password set from the link emailed to newbie@example.org (for a new account)")


def test_the_person_is_told_at_sign_in_of_an_admins_address_change_and_reset(
        world, committed):
    user = world.users["prescriber"]
    User.objects.filter(pk=user.pk).update(email="old@example.org", last_login=timezone.now()
                                           - datetime.timedelta(days=3))
    admin = world.client("service_admin")
    with committed():
        admin.post(f"/manage/users/{user.pk}/", form_data(user, email="new@example.org"))
    User.objects.filter(pk=user.pk).update(email_changed_at=timezone.now()
                                           - datetime.timedelta(days=2))
    with committed():
        admin.post(f"/manage/users/{user.pk}/password-reset/")
    person = Client()
    page = person.post("/accounts/login/", {"username": "prescriber", "password": PASSWORD},
                       follow=True).content.decode()
    assert "your email address was changed to new@example.org" in page
    assert "a password reset link was sent to you at service_admin" in page
    again = Client().post("/accounts/login/", {"username": "prescriber", "password": PASSWORD},
                          follow=True).content.decode()
    assert "email address was changed" not in again and "reset link" not in again


# Emails leave only once their request has committed.

def test_a_request_run_again_after_a_deadlock_sends_its_email_once(world, monkeypatch,
                                                                   committed):
    from django.db import OperationalError

    from tandem.accounts import views

    class PsycopgError(Exception):
        sqlstate = "40P01"

    calls = []
    real = views.messages.success

    def success(*args, **kwargs):  # fails once, after the email was asked for
        calls.append(1)
        if len(calls) == 1:
            error = OperationalError("deadlock detected")
            error.__cause__ = PsycopgError()
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(views.messages, "success", success)
    client = world.client("service_admin")
    client.raise_request_exception = False
    with committed():
        response = client.post("/manage/users/new/", {
            "username": "newbie", "first_name": "New", "last_name": "Person",
            "email": "newbie@example.org", "is_active": "on", "roles": ["prescriber"]})
    assert response.status_code == 302 and len(calls) == 2
    assert [m.to for m in mail.outbox] == [["newbie@example.org"]]


def test_a_request_that_fails_sends_no_email(world, monkeypatch, committed):
    from tandem.accounts import views

    def success(*args, **kwargs):
        raise ValueError("a bug after the save")

    monkeypatch.setattr(views.messages, "success", success)
    client = world.client("service_admin")
    client.raise_request_exception = False
    user = world.users["prescriber"]
    User.objects.filter(pk=user.pk).update(email="old@example.org")
    with committed():
        response = client.post(f"/manage/users/{user.pk}/", form_data(
            user, email="new@example.org"))
    assert response.status_code == 500
    assert mail.outbox == []


def test_a_reset_the_mail_server_refused_is_on_the_accounts_trail(world, committed,
                                                                    monkeypatch):
    """The save stands; the trail says the link was never sent, so nobody relies on it."""
    import smtplib

    from django.core.mail.backends.locmem import EmailBackend

    def refuse(self, messages):
        raise smtplib.SMTPRecipientsRefused({"prescriber@example.org": (550, b"no such user")})

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    user = world.users["prescriber"]
    User.objects.filter(pk=user.pk).update(email="prescriber@example.org")
    with committed():
        reply = world.client("service_admin").post(f"/manage/users/{user.pk}/password-reset/")
    assert reply.status_code == 302 and mail.outbox == []
    details = [e.detail for e in events_about(user)]
    assert details[-2].startswith("password reset sent to prescriber@example.org")
    assert details[-1].startswith("the reset email to prescriber@example.org could not be sent")


def test_email_gives_up_after_ten_seconds():
    from django.conf import settings as live

    assert importlib.import_module("tandem.settings").EMAIL_TIMEOUT == 10
    assert live.EMAIL_TIMEOUT == 10


# Command-line account changes are audited.

def test_command_line_account_changes_are_audited(world):
    from django.core.management import call_command

    call_command("createadmin", username="boss", organisation=world.org.name,
                 email="boss@example.org", password="a-long-unusual-passphrase",
                 stdout=io.StringIO())
    boss = User.objects.get(username="boss")
    created = events_about(boss)[-1]
    assert (created.action, created.role, created.actor) == ("create", "command line", None)
    assert "service_admin" in created.detail
    out = io.StringIO()
    call_command("token", "create", "practitioner", "--name", "sync", stdout=out)
    token = ApiToken.objects.get(user=world.users["practitioner"])
    call_command("token", "revoke", token.prefix, stdout=io.StringIO())
    events = list(AuditEvent.objects.filter(object_type="apitoken", object_id=str(token.pk))
                  .order_by("seq"))
    assert [(e.action, e.role) for e in events] == [("create", "command line"),
                                                    ("update", "command line")]
    assert "practitioner" in events[0].detail and "revoked" in events[1].detail


# Small things.

def test_a_new_deactivated_account_is_not_said_to_be_emailed(world, committed):
    with committed():
        response = world.client("service_admin").post("/manage/users/new/", {
            "username": "newbie", "first_name": "New", "last_name": "Person",
            "email": "newbie@example.org", "roles": ["prescriber"]}, follow=True)
    page = response.content.decode()
    assert mail.outbox == []
    assert "have been emailed" not in page and "No email was sent" in page


def test_bulk_grant_paths_lock_the_users_rows_first(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    users = [make_user(world.org, "fresh2"), make_user(world.org, "fresh1")]
    new = [RoleGrant(organisation=world.org, user=u, role=Role.AUDITOR) for u in users]
    for write in (
        lambda: RoleGrant.objects.bulk_create(new),
        lambda: RoleGrant.objects.bulk_update(new, ["role"]),
    ):
        with CaptureQueriesContext(connection) as queries:
            write()
        sql = [q["sql"] for q in queries.captured_queries]
        lock = next(i for i, q in enumerate(sql) if q.startswith("SELECT")
                    and '"accounts_user"' in q.split("FROM")[1].split("WHERE")[0])
        assert lock < next(i for i, q in enumerate(sql) if q.startswith(("INSERT", "UPDATE")))
        if connection.features.has_select_for_update:
            assert "FOR UPDATE" in sql[lock] and "ORDER BY" in sql[lock]


def test_a_change_of_letter_case_or_of_ones_own_address_holds_no_reset(world, committed):
    user = world.users["prescriber"]
    User.objects.filter(pk=user.pk).update(email="pat@example.org")
    admin = world.client("service_admin")
    with committed():
        reply = admin.post(f"/manage/users/{user.pk}/", form_data(user, email="Pat@Example.org"))
    assert reply.status_code == 302
    assert User.objects.get(pk=user.pk).email_changed_at is None
    assert mail.outbox == []  # the same address: nobody to tell
    me = world.users["service_admin"]
    with committed():
        own = admin.post(f"/manage/users/{me.pk}/", {
            "username": me.username, "first_name": me.first_name, "last_name": me.last_name,
            "email": "admin-new@example.org", "version": User.objects.get(pk=me.pk).version})
    assert own.status_code == 302
    assert User.objects.get(pk=me.pk).email_changed_at is None


# One username whatever its capitals (accounts 0004).

def test_a_username_taken_in_other_capitals_is_a_field_error_on_the_staff_form(world):
    make_user(world.org, "keyworker")
    response = world.client("service_admin").post("/manage/users/new/", {
        "username": "Keyworker", "first_name": "New", "last_name": "Person",
        "email": "kw@example.org", "is_active": "on", "roles": ["auditor"]})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "already exists, in any mix of capitals" in " ".join(errors.get("username", []))
    assert "violated" not in response.content.decode()
    assert User.objects.filter(username__iexact="keyworker").count() == 1


def test_createadmin_refuses_a_username_taken_in_other_capitals(world):
    from django.core.management import CommandError, call_command

    make_user(world.org, "boss")
    with pytest.raises(CommandError, match="already exists"):
        call_command("createadmin", username="BOSS", organisation=world.org.name,
                     email="boss@example.org", password="a-long-unusual-passphrase",
                     stdout=io.StringIO())
    assert User.objects.filter(username__iexact="boss").count() == 1


def test_the_any_case_migration_stops_on_usernames_differing_only_in_capitals(world):
    from django.apps import apps
    from django.core.management import CommandError
    from django.db import connection

    migration = importlib.import_module("tandem.accounts.migrations.0004_username_any_case")
    migration.refuse_usernames_differing_in_capitals(apps, None)  # none yet: goes on
    with connection.cursor() as cursor:  # as a database from before 0004 (rolled back)
        cursor.execute("DROP INDEX accounts_user_username_any_case")
    make_user(world.org, "Sam")
    make_user(world.org, "sam")
    make_user(world.org, "SAM")
    with pytest.raises(CommandError) as refused:
        migration.refuse_usernames_differing_in_capitals(apps, None)
    words = str(refused.value)
    assert "'SAM', 'Sam', 'sam'" in words and "rename" in words
    assert User.objects.filter(username__iexact="sam").count() == 3  # nobody renamed
