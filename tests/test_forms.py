"""Bad input gets a clear message naming the field, never a 500, and what was typed stays."""

import datetime

from tandem.accounts.models import RoleGrant, Team, User
from tandem.patients.models import Episode

TODAY = datetime.date.today()


def errors_of(response):
    assert response.status_code == 200, response.status_code
    return {name: [str(e) for e in errs] for name, errs in response.context["form"].errors.items()}


def test_register_patient_reports_each_field_and_keeps_the_draft(world):
    client = world.client("practitioner")
    response = client.post("/patients/new/", {
        "service_id": "T-001", "given_name": "Robin", "family_name": "",
        "date_of_birth": "31/02/1990", "team": world.team_b.pk, "preferred_contact": "pigeon",
        "email": "not-an-email", "episode-start_date": "2999-01-01",
        "episode-setting": "community",
    })
    errors = errors_of(response)
    assert errors["service_id"] == ["Another patient already has this service ID."]
    assert errors["family_name"] == ["This field is required."]
    assert errors["date_of_birth"] == ["Enter a valid date."]
    assert "team" in errors and "preferred_contact" in errors and "email" in errors
    assert response.context["episode_form"].errors["start_date"] == [
        "The start date cannot be in the future."]
    page = response.content.decode()
    assert 'value="Robin"' in page and 'href="#id_family_name"' in page


def test_exit_needs_date_and_reason_and_cannot_precede_start(world):
    client = world.client("practitioner")
    episode = world.p1.episodes.get()
    url = f"/patients/{world.p1.pk}/episodes/{episode.pk}/"
    errors = errors_of(client.post(url, {"setting": "community",
                                         "status": "post-exit-monitoring"}))
    assert errors == {"exit_date": ["Enter the date treatment ended."],
                      "exit_reason": ["Choose why treatment ended."]}
    early = (episode.start_date - datetime.timedelta(days=1)).isoformat()
    errors = errors_of(client.post(url, {"setting": "community", "status": "finished",
                                         "exit_date": early, "exit_reason": "left"}))
    assert errors == {"exit_date": ["The exit date is before the episode started."]}
    ok = client.post(url, {"setting": "community", "status": "post-exit-monitoring",
                           "exit_date": TODAY.isoformat(), "exit_reason": "completed_free",
                           "version": "1"})
    assert ok.status_code == 302
    episode.refresh_from_db()
    assert episode.status == "post-exit-monitoring" and episode.closed_date is None


def test_re_entry_closes_monitoring_and_keeps_history(world):
    client = world.client("practitioner")
    episode = world.p1.episodes.get()
    Episode.objects.filter(pk=episode.pk).update(status="post-exit-monitoring",
                                                  exit_date=TODAY, exit_reason="left")
    response = client.post(f"/patients/{world.p1.pk}/episodes/new/",
                           {"start_date": TODAY.isoformat(), "setting": "residential"})
    assert response.status_code == 302
    episodes = list(world.p1.episodes.order_by("start_date", "status"))
    assert [e.status for e in episodes] == ["finished", "active"]
    assert episodes[0].closed_date == TODAY
    assert episodes[1].setting == "residential"
    again = client.post(f"/patients/{world.p1.pk}/episodes/new/",
                        {"start_date": TODAY.isoformat(), "setting": "community"})
    assert "already in treatment" in errors_of(again)["start_date"][0]


def test_care_team_member_needs_a_person_and_a_sensible_end(world):
    client = world.client("practitioner")
    errors = errors_of(client.post(f"/patients/{world.p1.pk}/care-team/new/",
                                   {"role": "keyworker", "name": "Outside Person",
                                    "start_date": TODAY.isoformat()}))
    assert errors["user"] == ["This role is held by a colleague with a Tandem account."]
    member = world.p1.care_team.members.first()
    url = f"/patients/{world.p1.pk}/care-team/{member.pk}/end/"
    too_early = (member.start_date - datetime.timedelta(days=5)).isoformat()
    errors = errors_of(client.post(url, {"end_date": too_early}))
    assert errors == {"end_date": ["The end date is before this person joined the team."]}


def test_admin_user_form_checks_roles_teams_and_email(world):
    client = world.client("service_admin")
    errors = errors_of(client.post("/manage/users/new/", {
        "username": "newbie", "first_name": "New", "last_name": "Person", "is_active": "on",
        "roles": ["practitioner"]}))
    assert errors["teams"] == ["Choose at least one team for a practitioner or team lead."]
    assert "email" in errors  # the link to set a password is emailed there
    ok = client.post("/manage/users/new/", {
        "username": "newbie", "first_name": "New", "last_name": "Person", "is_active": "on",
        "email": "newbie@example.org", "roles": ["practitioner", "prescriber"],
        "teams": [world.team_b.pk]})
    assert ok.status_code == 302
    user = User.objects.get(username="newbie")
    assert user.organisation == world.org
    assert not user.has_usable_password()
    assert set(RoleGrant.objects.filter(user=user).values_list("role", "team")) == {
        ("practitioner", world.team_b.pk), ("prescriber", None)}


def test_admin_cannot_choose_another_organisations_team(world):
    other_team = Team.objects.get(organisation=world.other_org)
    client = world.client("service_admin")
    errors = errors_of(client.post("/manage/users/new/", {
        "username": "x1", "first_name": "X", "last_name": "Y", "roles": ["practitioner"],
        "teams": [other_team.pk], "email": "x1@example.org"}))
    assert "teams" in errors


def test_team_names_are_unique_within_the_service(world):
    errors = errors_of(world.client("service_admin").post("/manage/teams/new/",
                                                          {"name": "team a"}))
    assert errors == {"name": ["A team with this name already exists."]}


def test_auditor_filter_reports_bad_dates(world):
    response = world.client("auditor").get("/audit/?since=2026-05-01&until=2026-04-01")
    assert response.status_code == 200
    assert response.context["form"].errors == {"until": ["'To' is before 'From'."]}
