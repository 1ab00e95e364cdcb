"""A medication plan ends with its episode of care: closing the episode stops the current plan
in the name of whoever closed it (its waiting request answered); post-exit monitoring keeps
it; a dose is never asked for on a plan whose episode is not open."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.medication import doses
from tandem.medication.models import PlanStatus, RequestStatus
from tandem.patients import events as patient_events
from tandem.patients.models import Episode, EpisodeStatus
from tests.test_medication_portal import URL, a_plan, ask, day


def close(world, episode, status="finished", exit_days_ago=0):
    exit_date = timezone.localdate() - datetime.timedelta(days=exit_days_ago)
    reply = world.client("practitioner").post(
        f"/patients/{episode.patient_id}/episodes/{episode.pk}/", {
            "setting": episode.setting, "status": status, "exit_date": exit_date.isoformat(),
            "exit_reason": "completed_free", "version": str(episode.version)})
    assert reply.status_code == 302, reply.content[:500]
    episode.refresh_from_db()
    return episode


def test_closing_the_episode_stops_its_plan_in_the_name_of_whoever_closed_it(world):
    plan = a_plan(world)
    assert ask(world, "40").status_code == 302  # a request waiting for the prescriber
    waiting = plan.requests.get()
    assert waiting.status == RequestStatus.PENDING
    episode = close(world, plan.episode)
    assert episode.status == EpisodeStatus.FINISHED
    plan.refresh_from_db()
    assert plan.status == PlanStatus.STOPPED
    today = timezone.localdate()
    assert plan.stopped_on == today  # the report's "on medication on a day" reads it
    version = plan.versions.order_by("number").last()
    assert version.reason == f"The episode of care closed on {today.day} {today:%B %Y}."
    assert version.changed_by == world.users["practitioner"]
    waiting.refresh_from_db()
    assert waiting.status == RequestStatus.DECLINED
    # The patient can no longer ask for a dose on it.
    before = plan.requests.count()
    ask(world, "30", from_day=day(1))
    assert plan.requests.count() == before


def test_post_exit_monitoring_keeps_the_plan(world):
    plan = a_plan(world)
    close(world, plan.episode, status="post-exit-monitoring")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    assert ask(world, "40").status_code == 302
    assert plan.requests.filter(status=RequestStatus.PENDING).count() == 1


def test_a_re_entry_closes_the_monitoring_episode_and_stops_its_plan(world):
    plan = a_plan(world)
    close(world, plan.episode, status="post-exit-monitoring", exit_days_ago=5)
    reply = world.client("practitioner").post(f"/patients/{world.p1.pk}/episodes/new/", {
        "start_date": timezone.localdate().isoformat(), "setting": "community"})
    assert reply.status_code == 302
    plan.refresh_from_db()
    assert plan.status == PlanStatus.STOPPED
    assert plan.versions.order_by("number").last().reason.startswith(
        "The episode of care closed on")


def test_no_dose_is_asked_for_on_a_plan_whose_episode_is_not_open(world):
    plan = a_plan(world)
    # The episode closed without the plan being stopped (an older record, an import).
    Episode.objects.filter(pk=plan.episode_id).update(status=EpisodeStatus.FINISHED)
    patient_events.records_changed.send(Episode, patient_ids={plan.patient_id})
    plan.refresh_from_db()
    with pytest.raises(doses.Refused) as refused:
        doses.request_dose(Actor(user=world.users["patient"], role="patient"), plan,
                           Decimal(40), timezone.localdate())
    assert "episode of care has closed" in str(refused.value)
    assert not plan.requests.exists()
    assert world.client("patient").get(URL).status_code == 200


@pytest.mark.django_db(transaction=True)  # migrates the database back and forth
def test_plans_stopped_before_the_stop_day_was_kept_take_the_local_day_of_their_last_change():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from tests.conftest import build_world

    world = build_world()
    plan = a_plan(world)
    before, after = [("medication", "0002_settings_version")], [("medication",
                                                                 "0003_plan_stopped_on")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("medication",
                                                                    "MedicationPlan")
        # Stopped at 23:30 UTC on 30 June, before the column: 1 July in London (summer time).
        old.objects.filter(pk=plan.pk).update(
            status="stopped",
            updated_at=datetime.datetime(2026, 6, 30, 23, 30, tzinfo=datetime.UTC))
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)
    plan.refresh_from_db()
    assert plan.stopped_on == datetime.date(2026, 7, 1)
