"""Goals in the patient's words: GAS levels, the patient's choice of substance goal (changes
kept with date and reason), field-level messages, and two people editing at once."""

from django.test import Client

from tandem.audit.models import AuditEvent
from tandem.planning.models import Goal, GoalTypeChange, SortSession

LEVELS = {"gas_minus2": "Drinking every day", "gas_minus1": "Drinking most days",
          "gas_0": "No more than 14 units a week", "gas_plus1": "Under 10 units a week",
          "gas_plus2": "Drinking only at weekends, under 6 units"}


def goal_data(**extra):
    data = {"card": "alcohol_use", "statement": "Cut down to a couple of pints at the weekend",
            "proposed_by": "patient", "priority": "1", "start_date": "2026-11-01",
            "target_date": "2027-02-01", "lifecycle_status": "active",
            "achievement_status": "in-progress", "goal_type": "controlled",
            "goal_type_chosen_by": "patient", **LEVELS}
    data.update(extra)
    return data


def test_a_controlled_drinking_goal_in_the_patients_words(world):
    session = SortSession.objects.create(organisation=world.org, patient=world.p1,
                                         started_by=world.users["practitioner"])
    client = world.client("practitioner")
    url = f"/patients/{world.p1.pk}/goals/new/?card=alcohol_use&from={session.pk}"
    assert 'value="alcohol_use" selected' in client.get(url).content.decode()
    reply = client.post(url, goal_data())
    assert reply.status_code == 302
    goal = Goal.objects.get()
    assert goal.sort_session == session and goal.version == 1
    assert goal.get_goal_type_display() == "Controlled or moderate use"
    assert [c.to_type for c in goal.type_changes.all()] == ["controlled"]
    assert AuditEvent.objects.filter(object_type="goal", action="create").exists()
    page = client.get(f"/patients/{world.p1.pk}/goals/").content.decode()
    assert "Cut down to a couple of pints at the weekend" in page
    assert "No more than 14 units a week" in page
    portal = world.client("patient").get("/portal/goals/").content.decode()
    assert "Controlled or moderate use" in portal and "you can change it at any time" in portal


def test_bad_goals_get_messages_by_field_and_keep_what_was_typed(world):
    client = world.client("practitioner")
    url = f"/patients/{world.p1.pk}/goals/new/"
    page = client.post(url, goal_data(goal_type="", goal_type_chosen_by="", gas_0="",
                                      target_date="2026-01-01")).content.decode()
    assert "Choose the kind of goal the patient wants." in page
    assert "Say whose choice it was." in page
    assert "The target date is before the start date." in page
    assert "This field is required." in page
    assert "Cut down to a couple of pints at the weekend" in page
    housing = client.post(url, goal_data(card="housing", goal_type="abstinence-all"))
    assert "Only drug and alcohol goals have a kind of goal." in housing.content.decode()
    assert not Goal.objects.exists()


def test_changing_the_kind_of_goal_keeps_its_history(world):
    client = world.client("practitioner")
    client.post(f"/patients/{world.p1.pk}/goals/new/", goal_data())
    goal = Goal.objects.get()
    url = f"/patients/{world.p1.pk}/goals/{goal.pk}/"
    page = client.post(url, goal_data(goal_type="abstinence-problem", version="1"))
    assert "Say why the kind of goal is changing." in page.content.decode()
    reply = client.post(url, goal_data(goal_type="abstinence-problem", version="1",
                                       type_change_reason="Cutting down was not working"))
    assert reply.status_code == 302
    changes = list(GoalTypeChange.objects.filter(goal=goal))
    assert [(c.from_type, c.to_type) for c in changes] == [
        ("", "controlled"), ("controlled", "abstinence-problem")]
    assert changes[1].reason == "Cutting down was not working"
    assert changes[1].chosen_by == "patient"


def test_two_people_editing_never_overwrite_each_other_silently(world):
    first = world.client("practitioner")
    first.post(f"/patients/{world.p1.pk}/goals/new/", goal_data())
    goal = Goal.objects.get()
    url = f"/patients/{world.p1.pk}/goals/{goal.pk}/"
    second = Client()
    second.force_login(world.users["team_lead"])
    # Both open the goal at version 1; the team lead saves first.
    assert second.post(url, goal_data(version="1", statement="Two pints, Saturdays only",
                                      gas_0="No more than 10 units a week")).status_code == 302
    page = first.post(url, goal_data(version="1", priority="2"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Team_Lead Tester changed this at" in text
    assert "Two pints, Saturdays only" in text  # what is saved now
    assert "Cut down to a couple of pints at the weekend" in text  # what they typed, kept
    assert 'name="version" value="2"' in text
    goal.refresh_from_db()
    assert goal.statement == "Two pints, Saturdays only" and goal.priority == 1
    # Saving again, knowingly, replaces it.
    assert first.post(url, goal_data(version="2", priority="2")).status_code == 302
    goal.refresh_from_db()
    assert goal.priority == 2 and goal.version == 3
