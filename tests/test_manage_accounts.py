"""A service admin manages staff accounts without being able to take one over unseen: nobody
changes their own roles, an admin never sets a password (the person gets Django's reset email),
patient portal accounts never pass through the staff form and can never hold a staff role,
and every change is an audit event saying what changed."""

import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from tandem.accounts.models import Role, RoleGrant, User
from tandem.audit.models import AuditEvent
from tests.conftest import PASSWORD, make_user


def signs_in(username, password):
    client = Client()
    client.post("/accounts/login/", {"username": username, "password": password})
    return "_auth_user_id" in client.session


def form_data(user, **changes):
    grants = list(user.grants.all())
    data = {"username": user.username, "first_name": user.first_name,
            "last_name": user.last_name, "email": user.email or f"{user.username}@example.org",
            "is_active": "on", "roles": sorted({g.role for g in grants}),
            "teams": sorted({g.team_id for g in grants if g.team_id})}
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
    assert "roles practitioner→practitioner,team_lead" in event.purpose
    assert "teams Team A→Team A,Team B" in event.purpose


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


def test_an_admin_sends_a_password_reset_and_the_person_sets_their_own(world):
    user = world.users["practitioner"]
    User.objects.filter(pk=user.pk).update(email="prac@example.org")
    response = world.client("service_admin").post(f"/manage/users/{user.pk}/password-reset/")
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["prac@example.org"]
    assert any(e.purpose.startswith("password reset sent") for e in events_about(user))
    person = Client()
    form_page = person.get(reset_link(mail.outbox[0]), follow=True)
    assert form_page.status_code == 200 and 'name="new_password1"' in form_page.content.decode()
    done = person.post(form_page.redirect_chain[-1][0], {
        "new_password1": "my-own-new-passphrase", "new_password2": "my-own-new-passphrase"})
    assert done.status_code == 302
    assert signs_in("practitioner", "my-own-new-passphrase")
    assert events_about(user)[-1].purpose == "password set by its owner from the emailed link"


def test_a_new_user_is_emailed_to_set_their_own_password(world):
    client = world.client("service_admin")
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
    assert "roles —→prescriber" in events_about(user)[0].purpose


def test_a_new_user_needs_an_email_address_for_their_link(world):
    response = world.client("service_admin").post("/manage/users/new/", {
        "username": "newbie", "first_name": "New", "last_name": "Person", "is_active": "on",
        "roles": ["auditor"]})
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not User.objects.filter(username="newbie").exists()


def test_changing_someones_email_tells_the_old_address(world):
    user = world.users["prescriber"]
    User.objects.filter(pk=user.pk).update(email="old@example.org")
    user.refresh_from_db()
    world.client("service_admin").post(f"/manage/users/{user.pk}/",
                                       form_data(user, email="new@example.org"))
    assert [m.to for m in mail.outbox] == [["old@example.org"]]
    assert "new@example.org" in mail.outbox[0].body
    assert "email old@example.org→new@example.org" in events_about(user)[-1].purpose


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
    purposes = [e.purpose for e in events_about(user)]
    assert any("teams Team B→Team A" in p for p in purposes)
    assert any("active yes→no" in p for p in purposes)


def test_team_edits_are_audited(world):
    client = world.client("service_admin")
    client.post(f"/manage/teams/{world.team_b.pk}/", {"name": "Team Bee"})
    event = AuditEvent.objects.filter(object_type="team").latest("seq")
    assert event.object_id == str(world.team_b.pk) and "name Team B→Team Bee" in event.purpose
