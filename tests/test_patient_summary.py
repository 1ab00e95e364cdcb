"""The staff patient page opens with a summary to read in ten seconds (open flags by severity,
the plan's version and review date, portal access, goals with the kind of substance goal, the
latest scores with their direction), its sections are one sub-navigation marking the current
page, the page title is plain text and the timeline appears once; the page's queries do not
grow with the patient's history."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.assessment import registry
from tandem.assessment.results import IMPROVED, SAME, WORSE, latest_changes, results_for
from tandem.caseload import summary
from tandem.feedback import content
from tandem.monitoring.models import Flag
from tandem.planning.models import CarePlan
from tandem.portal import home
from tests.conftest import gad7, phq9
from tests.test_checkups import complete
from tests.test_goals import goal_data

TODAY = timezone.localdate()
PHQ9 = {str(i): 0 for i in range(1, 10)}


def auditc(a, b, c):
    return {"1": a, "2": b, "3": c}


def text_of(page: str, start: str) -> str:
    """The words of the section that opens with `start`, tags dropped, spaces squeezed."""
    section = page[page.index(start):]
    section = section[:section.index("</section>")]
    words = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", section))).strip()
    return re.sub(r" ([:;,.)])", r"\1", words)


def summary_text(client, patient) -> str:
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    return text_of(page, '<section aria-labelledby="summary-h"')


def add_flag(world, patient, severity, n, status="active", acknowledged_by=None):
    return Flag.objects.create(
        organisation=world.org, patient=patient, rule="safety-answer", evidence_key=f"k:{n}",
        severity=severity, status=status, evidence=f"Evidence {n}",
        acknowledged_by=acknowledged_by,
        acknowledged_at=timezone.now() if acknowledged_by else None)


def add_goals(world, client, patient):
    """A controlled-drinking goal the patient chose, and a housing goal with no kind."""
    assert client.post(f"/patients/{patient.pk}/goals/new/", goal_data()).status_code == 302
    assert client.post(f"/patients/{patient.pk}/goals/new/", goal_data(
        card="housing", statement="A flat of my own", priority="2", goal_type="",
        goal_type_chosen_by="")).status_code == 302


def add_plan(client, patient, review):
    reply = client.post(f"/patients/{patient.pk}/plan/edit/", {
        "review_date": review.isoformat(), "status": "active"})
    assert reply.status_code == 302, reply.content[:400]
    return CarePlan.objects.get(patient=patient)


def test_the_summary_says_goal_kind_score_direction_plan_portal_and_flags(world):
    client = world.client("practitioner")
    p1 = world.p1
    add_goals(world, client, p1)
    complete(p1, "phq9", phq9(18), 60)
    complete(p1, "phq9", phq9(9), 5)  # 9 points down: a reliable improvement (6 or more)
    complete(p1, "gad7", gad7(5), 60)
    complete(p1, "gad7", gad7(7), 5)  # 2 up: less than the 4 that would be reliable
    complete(p1, "audit-c", auditc(1, 1, 1), 60)
    complete(p1, "audit-c", auditc(3, 2, 2), 5)  # no reliable-change figure: by sign only
    complete(p1, "k10", {str(i): 1 for i in range(1, 11)}, 5)  # only one check-up
    add_plan(client, p1, TODAY + datetime.timedelta(days=30))
    world.users["patient"].last_login = timezone.make_aware(datetime.datetime(2026, 3, 4, 9, 15))
    world.users["patient"].save()
    add_flag(world, p1, "medium", 1)
    add_flag(world, p1, "low", 2)
    add_flag(world, p1, "urgent", 3)
    add_flag(world, p1, "medium", 4)
    add_flag(world, p1, "high", 5, status="resolved")  # resolved: not counted

    text = summary_text(client, p1)
    # Open flags by severity, the most urgent first; the resolved one is not counted.
    assert "Open flags 4 open: Urgent 1 Medium 2 Low 1" in text
    assert "High" not in text[:text.index("Recovery plan")]
    # The plan: version, signatures, review date, not overdue.
    review = TODAY + datetime.timedelta(days=30)
    assert "Version 1: waiting for signatures (active)" in text
    assert f"Review by {review.day} {review:%b %Y}" in text and "overdue" not in text
    # Portal access from the patient's account.
    assert "Has portal access. Last signed in 4 Mar 2026, 09:15" in text
    # Goals in priority order, the substance goal's kind and whose choice it was.
    assert ("Goals Alcohol use: “Cut down to a couple of pints at the weekend” Substance goal: "
            "Controlled or moderate use (the patient's choice) Housing: “A flat of my own” "
            "Latest scores") in text
    assert text.count("Substance goal:") == 1
    # Latest scores with their direction since the check-up before.
    assert "PHQ-9 9 (Mild)" in text and "Better (a reliable change) was 18" in text
    assert "About the same (less than a reliable change) was 5" in text
    assert "Worse was 3" in text and "no reliable-change figure" in text
    assert "First check-up" in text  # K10, done once

    found = summary.gather(p1)
    lines = {s.instrument: s for s in found.scores}
    assert (lines["PHQ-9"].direction, lines["PHQ-9"].reliable) == ("better", True)
    assert (lines["GAD-7"].direction, lines["GAD-7"].reliable) == ("about the same", False)
    assert (lines["AUDIT-C"].direction, lines["AUDIT-C"].reliable) == ("worse", None)
    assert lines["K10"].direction == "" and lines["K10"].previous is None
    assert [(f.severity, f.count) for f in found.flags] == [("urgent", 1), ("medium", 2),
                                                             ("low", 1)]


def test_an_overdue_review_no_portal_account_an_invitation_and_a_suspended_one(world):
    client = world.client("team_lead")
    plan = add_plan(client, world.p2, TODAY + datetime.timedelta(days=10))
    plan.review_date = TODAY - datetime.timedelta(days=3)
    plan.save()
    text = summary_text(client, world.p2)
    assert "Review overdue" in text
    assert "Portal No portal access." in text and "Has portal access" not in text
    assert "No open goals." in text and "No check-ups completed yet." in text
    assert "None open." in text
    # A completed plan has nothing due any more, as on the caseload.
    plan.status = "completed"
    plan.save()
    assert "Review overdue" not in summary_text(client, world.p2)

    # Invited by letter (a letter needs no consent to email or texts): waiting to activate.
    reply = client.post(f"/patients/{world.p2.pk}/portal/", {"do": "invite",
                                                              "invite-channel": "letter"})
    assert reply.status_code == 302, reply.content[:400]
    text = summary_text(client, world.p2)
    expires = TODAY + datetime.timedelta(days=7)
    assert (f"Invited, not yet activated. Invited by letter on {TODAY.day} {TODAY:%b %Y}; "
            f"the invitation expires {expires.day} {expires:%b %Y}") in text

    world.users["patient"].is_active = False
    world.users["patient"].save()
    text = summary_text(client, world.p1)
    assert "Portal access suspended." in text and "Never signed in" in text
    assert "No recovery plan yet." in text


def test_the_kind_of_a_reliable_change_follows_the_results_code():
    phq = registry.shipped()["phq9"].primary  # reliable change: 6 points or more
    assert summary.direction_of(phq, 18, 12) == ("better", True)
    assert summary.direction_of(phq, 18, 13) == ("about the same", False)
    assert summary.direction_of(phq, 9, 16) == ("worse", True)
    assert summary.direction_of(phq, None, 16) == ("", None)
    life = registry.shipped()["life-domains"].primary  # higher is better, no figure
    assert summary.direction_of(life, 4, 5) == ("better", None)
    assert summary.direction_of(life, 5, 4) == ("worse", None)
    assert summary.direction_of(life, 5, 5) == ("about the same", None)


def test_one_latest_score_and_change_since_last_time_for_every_page(world):
    """assessment.results.latest_changes is the one reckoning: the staff summary, the portal
    home and the feedback report each word its codes in their own way."""
    phq = registry.shipped()["phq9"].primary
    day = datetime.date(2026, 1, 1)
    rows = [{"value": v, "date": day + datetime.timedelta(days=n)}
            for n, v in enumerate([18, None, 17, 9])]
    found = latest_changes(phq, rows)
    assert (found.first["value"], found.previous["value"], found.latest["value"]) == (18, 17, 9)
    assert found.scored == 3  # the row without a score is skipped
    assert (found.since_last.code, found.since_last.reliable) == (IMPROVED, True)  # 8 points
    assert (found.since_first.code, found.since_first.reliable) == (IMPROVED, True)
    assert latest_changes(phq, rows[:1]).since_last is None  # a first check-up
    assert latest_changes(phq, [{"value": None, "date": day}]) is None
    same = latest_changes(phq, [{"value": 9, "date": day}, {"value": 14, "date": day}])
    assert (same.since_last.code, same.since_last.reliable) == (SAME, False)  # under 6 points
    worse = latest_changes(phq, [{"value": 9, "date": day}, {"value": 16, "date": day}])
    assert (worse.since_last.code, worse.since_last.reliable) == (WORSE, True)
    life = registry.shipped()["life-domains"].primary  # higher is better, no figures
    by_sign = latest_changes(life, [{"value": 4, "date": day}, {"value": 5, "date": day}])
    assert (by_sign.since_last.code, by_sign.since_last.reliable) == (IMPROVED, None)

    complete(world.p1, "phq9", phq9(18), 60)
    complete(world.p1, "phq9", phq9(17), 30)
    complete(world.p1, "phq9", phq9(9), 5)
    line = next(s for s in summary.gather(world.p1).scores if s.instrument == "PHQ-9")
    assert (line.direction, line.reliable, line.previous) == ("better", True, 17)
    doing = home.how_i_am_doing(results_for(world.p1))
    assert (doing.lines[0].words, doing.lines[0].before) == ("a real improvement", 17)
    report = next(a for a in content.build(world.p1)["answers"] if a["key"] == "phq9-total")
    assert report["since_last"] == report["since_start"] == "a real improvement"
    assert report["since_last_code"] == IMPROVED


def test_the_title_is_plain_text_and_the_timeline_shows_once(world):
    page = world.client("practitioner").get(f"/patients/{world.p1.pk}/").content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL).group(1)
    assert title == "Pat Patient T-001 · Tandem"
    assert page.count('id="timeline-h"') == 1
    assert len(re.findall(r">Timeline</h2>", page)) == 1
    assert page.count('<ol class="timeline">') + page.count("Nothing has happened yet.") == 1


NAV = re.compile(r'<nav aria-label="[^"]*record" class="subnav patient-nav">(.*?)</nav>',
                 re.DOTALL)
PAGES = {"": "Summary", "checkups/": "Check-ups", "priorities/": "Priorities",
         "goals/": "Goals", "plan/": "Plan", "medication/": "Medication",
         "feedback/": "Feedback reports", "flags/": "Flags",
         "timeline/": "Timeline", "messages/": "Messages", "portal/": "Portal access"}


@pytest.mark.parametrize(("path", "label"), PAGES.items())
def test_every_section_has_the_sub_navigation_marking_where_you_are(world, path, label):
    page = world.client("practitioner").get(f"/patients/{world.p1.pk}/{path}")
    assert page.status_code == 200
    navs = NAV.findall(page.content.decode())
    assert len(navs) == 1
    links = re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', navs[0])
    assert [text for _href, _current, text in links][:len(PAGES)] == list(PAGES.values())
    assert [text for _href, current, text in links if current] == [label]
    assert dict((text, href) for href, _c, text in links)[label] == \
        f"/patients/{world.p1.pk}/{path}"


def test_recording_a_contact_is_offered_only_to_who_may_change_the_record(world):
    url = f"/patients/{world.p1.pk}/"
    mine = NAV.search(world.client("practitioner").get(url).content.decode()).group(1)
    assert "Record a contact" in mine
    read_only = NAV.search(world.client("prescriber").get(url).content.decode()).group(1)
    assert "Record a contact" not in read_only and "Summary" in read_only


def page_queries(client, url) -> int:
    client.get(url)  # warm: caches of the service's questionnaires and cards
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_page_costs_the_same_queries_whatever_the_history(world):
    client = world.client("practitioner")
    p1, url = world.p1, f"/patients/{world.p1.pk}/"
    # One of everything, so every part of the page is shown...
    add_goals(world, client, p1)
    complete(p1, "phq9", phq9(18), 90)
    complete(p1, "phq9", phq9(10), 80)
    plan = add_plan(client, p1, TODAY + datetime.timedelta(days=30))
    add_flag(world, p1, "urgent", 0, acknowledged_by=world.users["practitioner"])
    few = page_queries(client, url)
    # ...then much more of it: goals, check-ups of every kind, flags acknowledged by
    # different people, plan versions.
    for n in range(8):
        assert client.post(f"/patients/{p1.pk}/goals/new/", goal_data(
            card="money", statement=f"Goal {n}", priority=str(3 + n), goal_type="",
            goal_type_chosen_by="")).status_code == 302
    for days in range(70, 0, -7):
        complete(p1, "phq9", phq9(days % 27), days)
        complete(p1, "gad7", gad7(days % 21), days)
        complete(p1, "audit-c", auditc(1, 2, days % 4), days)
    for n, severity in enumerate(["high", "medium", "low", "urgent", "medium", "low"] * 2):
        who = world.users["practitioner" if n % 2 else "team_lead"]
        add_flag(world, p1, severity, n + 1, acknowledged_by=who)
    for n in range(3):
        client.post(f"/patients/{p1.pk}/plan/sign/")
        plan.review_date = TODAY + datetime.timedelta(days=40 + n)
        plan.save()
        client.post(f"/patients/{p1.pk}/plan/edit/", {
            "review_date": (TODAY + datetime.timedelta(days=50 + n)).isoformat(),
            "status": "active", "version": CarePlan.objects.get(pk=plan.pk).version})
    assert page_queries(client, url) == few
    text = summary_text(client, p1)
    still_open = Flag.objects.filter(patient=p1, status="active").count()
    assert f"{still_open} open" in text and "and 5 more on the goals page" in text
