"""One timeline of everything: every kind of event in plain words, newest first, filtered by
kind, cut to a limit, in a fixed number of queries whatever the size of the history, and the
template partial that shows it."""

import datetime

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.monitoring import services as monitoring
from tandem.monitoring.models import Contact
from tandem.monitoring.timeline import KINDS, Event, events
from tandem.patients.models import Episode
from tandem.planning.models import Goal, Review, SortSession
from tests.test_care_plan import make_plan
from tests.test_checkups import complete
from tests.test_checkups import start as start_checkup
from tests.test_goals import goal_data
from tests.test_priorities import sort_data

TODAY = timezone.localdate()
PHQ9 = {str(i): 1 for i in range(1, 10)}  # 9: Mild
ALL_KINDS = set(KINDS)
# One query per source: check-ups, priority sorts, goals, changes of the kind of goal, plan
# versions (with their signatures), proposals, reviews, flags, episodes, contacts; and for
# medication: plan versions, doses, dose requests, reviews, missed days, reductions; messages.
QUERIES = 17


def _actor(user):
    request = RequestFactory().post("/")
    request.user = user
    return Actor.of(request)


def add_round(world, n: int) -> None:
    """One round of care for p1: a check-up, a priority sort, a goal, the plan signed by both,
    a review, a flag raised and resolved, a contact."""
    patient, staff = world.p1, world.client("practitioner")
    portal = world.client("patient")
    base = f"/patients/{patient.pk}"
    complete(patient, "phq9", PHQ9 | {"1": 1 + n % 3}, days_ago=60 - n)
    assert staff.post(f"{base}/priorities/new/").status_code == 302
    session = SortSession.objects.filter(patient=patient).order_by("started_at").last()
    staff.post(f"{base}/priorities/{session.pk}/practitioner/", sort_data(now=["housing"]))
    portal.post(f"/portal/priorities/{session.pk}/", sort_data(now=["housing", "drug_use"]))
    staff.post(f"{base}/priorities/{session.pk}/discussion/",
               {"discussion": f"Housing first, round {n}"})
    if n == 1:
        make_plan(world)  # a drinking goal and the plan (version 1)
    else:
        reply = staff.post(f"{base}/goals/new/", goal_data(
            card="housing", statement=f"Find somewhere to live, round {n}", goal_type="",
            goal_type_chosen_by="", priority=str(n)))
        assert reply.status_code == 302
    portal.post("/portal/plan/sign/")
    staff.post(f"{base}/plan/sign/")
    goal = Goal.objects.filter(patient=patient, card="alcohol_use").get()
    reply = staff.post(f"{base}/plan/review/", {
        "held_on": TODAY.isoformat(),
        "next_review": (TODAY + datetime.timedelta(days=70)).isoformat(),
        f"patient_{goal.pk}": "1", f"practitioner_{goal.pk}": "0"})
    assert reply.status_code == 302, reply.content[:400]
    flag, created = monitoring.raise_flag(
        patient=patient, rule="return-to-use", evidence_key=f"round-{n}", severity="high",
        evidence=f"Heroin use reported in the TOP, round {n}")
    assert created
    monitoring.resolve(_actor(world.users["practitioner"]), flag, "Called; review brought on")
    Contact.objects.create(organisation=world.org, patient=patient, method="phone",
                           on=TODAY - datetime.timedelta(days=n), note=f"Checked in, round {n}",
                           recorded_by=world.users["practitioner"])


def add_medication(world) -> None:
    """p1's substitute medication: a plan started 40 days ago at 30 mg, changed to 50 mg, a
    request asked for and agreed, a review, two missed days in a row and one more (no flag), a
    reduction planned and paused."""
    from decimal import Decimal as D

    from tandem.medication import doses
    from tandem.medication.models import DispensingDay, MedicationReview

    prescriber = Actor(user=world.users["prescriber"], role="prescriber")
    patient = world.p1
    def day(n):
        return TODAY - datetime.timedelta(days=n)

    terms = doses.Terms(low=D(20), high=D(100), step_up_max=D(30), step_down_max=D(10),
                        min_days_between=1, max_rise_7_days=D(30),
                        review_date=TODAY + datetime.timedelta(days=60), self_setting=True)
    plan = doses.start_plan(prescriber, patient.episodes.get(status="active"), "methadone",
                            terms, D(30), day(40), "Agreed at assessment")
    plan = doses.change_plan(prescriber, plan, plan.version, terms, "Still in withdrawal",
                             dose=D(50), from_day=TODAY)
    keyworker = Actor(user=world.users["practitioner"], role="practitioner")
    request = doses.request_dose(keyworker, plan, D(55), TODAY + datetime.timedelta(days=2),
                                 "Cravings in the evening", on_behalf=True)
    doses.approve(prescriber, request)
    MedicationReview.objects.create(
        organisation=world.org, plan=plan, held_on=day(2), adequacy="too-low",
        patient_view="Better since the rise", substance_goal="stable", goal_chosen_by="patient",
        next_review=TODAY + datetime.timedelta(days=80), held_by=world.users["prescriber"])
    DispensingDay.objects.bulk_create([
        DispensingDay(organisation=world.org, patient=patient, plan=plan, day=day(n),
                      status=status, source="csv")
        for n, status in ((20, "missed"), (19, "missed"), (18, "supervised"), (10, "missed"))])
    plan.refresh_from_db()
    reduction = doses.plan_reduction(prescriber, plan, TODAY + datetime.timedelta(days=10),
                                     D(5), 7, D(40), "patient")
    doses.pause(prescriber, reduction, "Moving house")


def build_history(world, rounds: int = 1) -> None:
    patient, staff = world.p1, world.client("practitioner")
    base = f"/patients/{patient.pk}"
    # An earlier episode, closed the day it ended.
    Episode.objects.create(organisation=world.org, patient=patient, setting="residential",
                           status="finished", start_date=TODAY - datetime.timedelta(days=400),
                           exit_date=TODAY - datetime.timedelta(days=300),
                           exit_reason="transferred", closed_date=TODAY -
                           datetime.timedelta(days=300))
    for n in range(1, rounds + 1):
        add_round(world, n)
    # The kind of the drinking goal changes.
    goal = Goal.objects.get(patient=patient, card="alcohol_use")
    reply = staff.post(f"{base}/goals/{goal.pk}/", goal_data(
        goal_type="abstinence-problem", version=str(goal.version),
        type_change_reason="Cutting down was not working"))
    assert reply.status_code == 302, reply.content[:400]
    add_medication(world)
    # A reminder sent, and one withdrawn (not an event).
    from tandem.outbox.models import Message

    Message.objects.create(organisation=world.org, patient=patient, channel="sms",
                           recipient="07700 900123", kind="checkup-soon", status="sent",
                           subject="Your check-up with Riverside on Thursday 5 March",
                           body="Hi", sent_at=timezone.now() - datetime.timedelta(hours=2))
    Message.objects.create(organisation=world.org, patient=patient, channel="sms",
                           recipient="07700 900123", kind="checkup-today", status="withdrawn",
                           body="Hi")
    # A draft check-up in the portal is not an event.
    start_checkup(world.client("patient"))
    # The current episode ends, into post-exit monitoring.
    episode = patient.episodes.get(status="active")
    reply = staff.post(f"{base}/episodes/{episode.pk}/", {
        "setting": "community", "status": "post-exit-monitoring",
        "exit_date": (TODAY - datetime.timedelta(days=1)).isoformat(),
        "exit_reason": "completed_free", "version": str(episode.version)})
    assert reply.status_code == 302, reply.content[:400]


def titles(found: list[Event], kind: str) -> list[str]:
    return [e.title for e in found if e.kind == kind]


def test_every_kind_of_event_in_plain_words(world):
    build_history(world)
    found = events(world.p1)
    assert {e.kind for e in found} == ALL_KINDS
    assert all(timezone.is_aware(e.at) for e in found)
    pk = world.p1.pk
    [message] = [e for e in found if e.kind == "message"]
    assert (message.title, message.detail, message.url) == (
        "Text message: Your check-up with Riverside on Thursday 5 March", "Sent",
        f"/patients/{pk}/messages/")

    checkups = [e for e in found if e.kind == "checkup"]
    assert [e.title for e in checkups] == ["PHQ-9 check-up: 10 (Moderate)"]  # not the draft
    done = world.p1.responses.get(status="completed")
    assert checkups[0].url == f"/patients/{pk}/checkups/{done.pk}/view/"
    assert checkups[0].detail == "By the patient, in the portal"

    session = SortSession.objects.get()
    assert titles(found, "sort") == [
        "Priority sorts compared and discussed", "The patient sorted their priorities",
        "The practitioner sorted the patient's priorities", "Priority sort started"]
    sorts = [e for e in found if e.kind == "sort"]
    assert all(e.url == f"/patients/{pk}/priorities/{session.pk}/" for e in sorts)
    assert sorts[0].detail == "Housing first, round 1 — by Practitioner Tester"
    assert sorts[-1].detail == "By Practitioner Tester"

    goals = [e for e in found if e.kind == "goal"]
    assert [e.title for e in goals] == [
        "Goal updated: Alcohol use",
        "Kind of goal changed: Controlled or moderate use to abstinence from the problem "
        "substance",
        "Goal set: Alcohol use"]
    assert goals[1].detail == ("Cut down to a couple of pints at the weekend — Cutting down was "
                               "not working — The patient's choice")
    assert goals[2].detail == ("Cut down to a couple of pints at the weekend — Controlled or "
                               "moderate use — by Practitioner Tester")
    assert all(e.url == f"/patients/{pk}/goals/" for e in goals)

    plan = titles(found, "plan")
    assert plan[-1] == "Care plan version 1"
    assert "Care plan version 2" in plan  # the review's next date, after sign-off
    assert titles(found, "signature") == [
        "Signed by the practitioner (version 1)", "Signed by the patient (version 1)"]
    signed = next(e for e in found if e.kind == "signature")
    assert signed.detail == "Practitioner Tester" and signed.url == f"/patients/{pk}/plan/"

    review = next(e for e in found if e.kind == "review")
    assert review.title == "Care plan review"
    nxt = TODAY + datetime.timedelta(days=70)
    assert review.detail == (
        "Goal attainment T-scores: patient 60, practitioner 50 — "
        f"Next review {nxt.day} {nxt:%B %Y} — by Practitioner Tester")
    assert review.url == f"/patients/{pk}/plan/reviews/{Review.objects.get().pk}/"
    assert not review.date_only  # recorded the day it was held: its real time

    raised = next(e for e in found if e.kind == "flag-raised")
    assert raised.title == "Flag raised: Return to use (High)"
    assert raised.detail == "Heroin use reported in the TOP, round 1"
    resolved = next(e for e in found if e.kind == "flag-resolved")
    assert resolved.title == "Flag resolved: Return to use"
    assert resolved.detail == "Called; review brought on — by Practitioner Tester"
    assert resolved.at > raised.at

    assert titles(found, "episode") == [
        "Left treatment: into post-exit monitoring", "Episode started: Community",
        "Episode closed", "Left treatment", "Episode started: Residential"]
    left = next(e for e in found if e.kind == "episode")
    assert left.detail == "Treatment completed: free of problem use" and left.date_only
    yesterday = TODAY - datetime.timedelta(days=1)
    assert left.at == timezone.make_aware(datetime.datetime.combine(yesterday, datetime.time()))

    contact = next(e for e in found if e.kind == "contact")
    assert (contact.title, contact.detail) == (
        "Phone call", "Checked in, round 1 — by Practitioner Tester")
    assert contact.date_only and timezone.localdate(contact.at) == yesterday


def test_newest_first(world):
    build_history(world, rounds=2)
    found = events(world.p1)
    assert [e.at for e in found] == sorted((e.at for e in found), reverse=True)
    assert found[-1].title == "Episode started: Residential"
    # Same-day episode changes read newest first: closed above left above started.
    old = [e.title for e in found if e.kind == "episode"][-3:]
    assert old == ["Episode closed", "Left treatment", "Episode started: Residential"]


def test_kinds_filter_and_skip_the_other_sources(world):
    build_history(world, rounds=2)
    full = events(world.p1)
    for kind in KINDS:
        with CaptureQueriesContext(connection) as queries:
            only = events(world.p1, kinds={kind})
        assert only == [e for e in full if e.kind == kind], kind
        assert len(queries) == (2 if kind in ("goal", "plan") else 1), kind
    pair = events(world.p1, kinds={"flag-raised", "contact"})
    assert pair == [e for e in full if e.kind in ("flag-raised", "contact")]
    with CaptureQueriesContext(connection) as queries:
        assert events(world.p1, kinds=set()) == []
    assert len(queries) == 0
    with pytest.raises(ValueError, match="flags"):
        events(world.p1, kinds={"flags"})


def test_limit_keeps_the_newest(world):
    build_history(world, rounds=3)
    full = events(world.p1)
    assert len(full) > 40
    for limit in (1, 5, 12, 30, len(full), len(full) + 5):
        cut = events(world.p1, limit=limit)
        assert len(cut) == min(limit, len(full))
        # Events at the very same moment may swap places at the cut; the moments may not.
        assert [e.at for e in cut] == [e.at for e in full[:limit]]
        assert set(cut) <= set(full)
    for kinds in ({"signature"}, {"flag-resolved"}, {"plan"}, {"sort", "review"}):
        expected = [e for e in full if e.kind in kinds]
        assert [e.at for e in events(world.p1, kinds=kinds, limit=3)] == [
            e.at for e in expected[:3]], kinds
    assert events(world.p1, limit=0) == []


def test_the_number_of_queries_does_not_grow_with_the_history(world):
    build_history(world, rounds=1)
    with CaptureQueriesContext(connection) as short:
        few = events(world.p1)
    for n in (2, 3, 4):
        add_round(world, n)
    with CaptureQueriesContext(connection) as long:
        many = events(world.p1)
    assert len(many) > 2 * len(few)
    assert len(short) == len(long) == QUERIES
    with CaptureQueriesContext(connection) as limited:
        events(world.p1, limit=5)
    assert len(limited) == QUERIES


def test_flag_links_when_the_flag_page_exists(world):
    build_history(world)
    flags = {str(pk) for pk in world.p1.flags.values_list("pk", flat=True)}
    found = events(world.p1, kinds={"flag-raised", "flag-resolved"})
    assert found
    for event in found:
        assert event.url is None or event.url.split("/")[-2] in flags


def test_timeline_partial(world):
    empty = render_to_string("monitoring/_timeline.html", {"events": []})
    assert "Nothing has happened yet." in empty and "<ol" not in empty
    build_history(world)
    found = events(world.p1)
    html = render_to_string("monitoring/_timeline.html", {"events": found})
    assert html.count("<li ") == len(found) and '<ol class="timeline">' in html
    checkup = next(e for e in found if e.kind == "checkup")
    local = timezone.localtime(checkup.at)
    assert f'<time datetime="{local.isoformat()}">{local:%-d %b %Y, %H:%M}</time>' in html
    assert f'<a href="{checkup.url}">PHQ-9 check-up: 10 (Moderate)</a>' in html
    episode = next(e for e in found if e.kind == "episode")
    day = timezone.localdate(episode.at)
    assert f'<time datetime="{day.isoformat()}">{day:%-d %b %Y}</time>' in html
    assert "Left treatment: into post-exit monitoring" in html
    assert "style=" not in html and "<script" not in html
    # Text is escaped.
    odd = Event(timezone.now(), "contact", "Phone <call>", "Line one\n<b>two</b>")
    shown = render_to_string("monitoring/_timeline.html", {"events": [odd]})
    assert "Phone &lt;call&gt;" in shown and "Line one<br>&lt;b&gt;two&lt;/b&gt;" in shown


def test_uploaded_instruments_scores_and_days(world):
    from tandem.assessment.models import Response, UploadedInstrument

    practitioner = world.users["practitioner"]
    for code, short in (("wemwbs", "WEMWBS"), ("sdsx", "")):
        UploadedInstrument.objects.create(
            organisation=world.org, code=code, version="1", title=f"Long title of {code}",
            definition={"code": code, "short_title": short}, uploaded_by=practitioner)
    now = timezone.now()
    for code, headline, band, hours in (("wemwbs", 50.0, "", 3), ("sdsx", 12.5, "High", 2),
                                        ("phq9", None, "", 1)):
        Response.objects.create(
            organisation=world.org, patient=world.p2, instrument_code=code,
            instrument_version="1", mode="with-practitioner", entered_by=practitioner,
            status="completed", headline=headline, band=band,
            completed_at=now - datetime.timedelta(hours=hours))
    assert titles(events(world.p2, kinds={"checkup"}), "checkup") == [
        "PHQ-9 check-up", "Long title of sdsx check-up: 12.5 (High)", "WEMWBS check-up: 50"]
    assert events(world.p2, kinds={"checkup"})[0].detail == (
        "With a practitioner, entered by Practitioner Tester")
    # A contact recorded the day it happened shows its time; one recorded later, its day.
    today = Contact.objects.create(organisation=world.org, patient=world.p2, method="message",
                                   on=TODAY, recorded_by=practitioner)
    Contact.objects.create(organisation=world.org, patient=world.p2, method="video",
                           on=TODAY - datetime.timedelta(days=3), recorded_by=practitioner)
    found = events(world.p2, kinds={"contact"})
    assert [(e.title, e.date_only) for e in found] == [
        ("Text message or email", False), ("Video call", True)]
    assert found[0].at == today.recorded_at
    assert events(world.p2, kinds={"contact"}, limit=1) == found[:1]
    assert [e.title for e in events(world.p2, kinds={"episode"})] == [
        "Episode started: Community"]


MEDICATION = ("medication-plan", "dose", "dose-request", "medication-review", "missed-doses",
              "reduction")


def test_medication_in_plain_words_with_runs_of_missed_days_as_one_event(world):
    build_history(world)
    found = events(world.p1, kinds=set(MEDICATION))
    url = f"/patients/{world.p1.pk}/medication/"
    assert {e.kind for e in found} == set(MEDICATION)
    assert all(e.url in (url, None) for e in found)
    name = "Methadone oral solution 1 mg/ml"
    assert titles(found, "medication-plan") == [
        f"Medication plan changed (version 2): {name}", f"Medication plan started: {name}"]
    # Doses in force only: the agreed 55 mg starts in two days, the reduction's steps later.
    assert titles(found, "dose") == ["Dose changed: 50 mg a day (was 30 mg)",
                                     f"Medication started: {name}, 30 mg a day"]
    changed = next(e for e in found if e.kind == "dose")
    assert changed.detail == "Set by the prescriber — Still in withdrawal — by Prescriber Tester"
    start_day = TODAY - datetime.timedelta(days=40)
    assert found[-1].date_only and timezone.localdate(found[-1].at) == start_day
    asked = TODAY + datetime.timedelta(days=2)
    assert titles(found, "dose-request") == [
        "Dose request agreed: 55 mg a day",
        f"New dose asked for: 55 mg a day from {asked.day} {asked:%B %Y}"]
    request = [e for e in found if e.kind == "dose-request"]
    assert request[1].detail == "Asked for them by Practitioner Tester — Cravings in the evening"
    review = next(e for e in found if e.kind == "medication-review")
    assert review.title == "Medication review" and review.date_only
    assert "What they want next: stay stable on this dose (chosen by the patient)" in \
        review.detail
    day = [TODAY - datetime.timedelta(days=n) for n in (20, 19, 10)]
    assert titles(found, "missed-doses") == [
        f"Missed dose: {day[2].day} {day[2]:%B %Y}",
        f"Missed doses: 2 days in a row, {day[0].day} {day[0]:%B %Y} to {day[1].day} "
        f"{day[1]:%B %Y}"]
    run = [e for e in found if e.kind == "missed-doses"][1]
    assert timezone.localdate(run.at) == day[1] and run.detail == "Reported by the pharmacy"
    start = TODAY + datetime.timedelta(days=10)
    assert titles(found, "reduction") == [
        "Reduction paused",
        f"Reduction planned: down 5 mg every 7 days to 40 mg a day, from {start.day} "
        f"{start:%B %Y}"]
    assert next(e for e in found if e.kind == "reduction").detail == (
        "Moving house — by Prescriber Tester")


def test_a_long_run_of_missed_days_is_one_event_and_the_limit_holds(world):
    from tandem.medication.models import DispensingDay

    build_history(world)
    plan = world.p1.medicationplans.get()
    days = [TODAY - datetime.timedelta(days=n) for n in range(30, 70)]  # 40 days in a row
    DispensingDay.objects.bulk_create([
        DispensingDay(organisation=world.org, patient=world.p1, plan=plan, day=d,
                      status="missed", source="csv") for d in days])
    full = [e for e in events(world.p1, kinds={"missed-doses"})]
    assert [e.title for e in full][-1] == (
        f"Missed doses: 40 days in a row, {days[-1].day} {days[-1]:%B %Y} to {days[0].day} "
        f"{days[0]:%B %Y}")
    assert events(world.p1, kinds={"missed-doses"}, limit=2) == full[:2]
    # With a limit of 1 the reading stops after 31 days: the long run, maybe cut, is left out.
    assert events(world.p1, kinds={"missed-doses"}, limit=1) == full[:1]
