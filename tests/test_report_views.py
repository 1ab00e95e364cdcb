"""The service report's pages: whose figures each role sees, the filters and their messages,
the patients behind a figure, the exports (suppressed, audited) and a fixed number of queries.

Most tests use two hand-made figures over the test world (tests/conftest.py), so the
arithmetic is plain: p1 and p2 of team A and p3 of team B each have one episode open since 90
days ago; p1's keyworker is "practitioner", p3's "practitioner_b"; O-001 is of another service.
The default period is the 12 months up to today, so all three are in treatment in it and
nobody was in the 12 months before (their episodes started 90 days ago).
"""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.audit.models import AuditEvent
from tandem.core.report import Definition, Kind, Value
from tandem.reporting import report as report_module
from tandem.reporting import views
from tandem.reporting.figures import FIGURES, outcomes
from tandem.reporting.figures.base import Figure, count_of, share_of
from tests.conftest import make_patient

TODAY = datetime.date.today()

IN_TREATMENT = Figure(Definition(
    key="test-in-treatment", section="balance", label="Patients in treatment (test)",
    kind=Kind.COUNT, who="Patients in treatment in the period", dates="Any day of the period",
    source="Episodes (a figure made for this test)", drill=True,
), lambda scope: count_of(scope.in_treatment()), lambda scope: scope.patients())
IN_COMMUNITY = Figure(Definition(
    key="goal-kind-test", section="balance", label="In the community (test)", kind=Kind.SHARE,
    who="Patients in treatment in the period", dates="Any day of the period",
    source="Episodes' settings (a figure made for this test)", higher_is_better=True,
), lambda scope: share_of(scope.in_treatment(), Q(setting="community")))


@pytest.fixture
def figures(monkeypatch):
    """The report made of the two test figures only."""
    made = [IN_TREATMENT, IN_COMMUNITY]
    monkeypatch.setattr(report_module, "FIGURES", made)
    monkeypatch.setattr(views, "FIGURES", made)
    monkeypatch.setattr(views, "BY_KEY", {f.key: f for f in made})
    return made


def now_of(response, key="test-in-treatment") -> Value:
    return next(r.now for r in response.context["report"].rows if r.definition.key == key)


def before_of(response, key="test-in-treatment") -> Value:
    return next(r.before for r in response.context["report"].rows if r.definition.key == key)


def listed(response) -> list[str]:
    return [p.service_id for p in response.context["rows"]]


# --- whose figures ------------------------------------------------------------------------


def test_each_role_sees_its_own_scope(world, figures):
    # Service manager: every team, p1 + p2 + p3 = 3 (O-001 is another service's).
    # Team lead of team A: p1 + p2 = 2. Practitioner: their own caseload, p1 = 1.
    # practitioner_b: p3 = 1. The other service's practitioner: O-001 = 1.
    expected = {"service_manager": 3, "team_lead": 2, "practitioner": 1, "other_org": 1}
    for role, count in expected.items():
        response = world.client(role).get("/reports/")
        assert response.status_code == 200
        assert now_of(response) == Value(count=count), role
        # Nobody was in treatment in the 12 months before (episodes began 90 days ago).
        assert before_of(response) == Value(count=0), role
    assert now_of(world.client("practitioner_b").get("/reports/")) == Value(count=1)


def test_a_service_manager_filters_to_one_team_and_a_keyworker(world, figures):
    client = world.client("service_manager")
    # Team B: p3 only = 1. Keyworker "practitioner": p1 only = 1. Team A and keyworker
    # practitioner_b: nobody = 0.
    assert now_of(client.get(f"/reports/?team={world.team_b.pk}")) == Value(count=1)
    kw = world.users["practitioner"].pk
    assert now_of(client.get(f"/reports/?keyworker={kw}")) == Value(count=1)
    other = world.users["practitioner_b"].pk
    response = client.get(f"/reports/?team={world.team_a.pk}&keyworker={other}")
    assert now_of(response) == Value(count=0)


def test_a_practitioners_figures_are_their_own_caseload_whatever_they_ask(world, figures):
    # p2 (team A) has no keyworker, p3 is practitioner_b's: asking for practitioner_b or for
    # team B changes nothing, the practitioner has no such filters: still p1 = 1.
    client = world.client("practitioner")
    other = world.users["practitioner_b"].pk
    response = client.get(f"/reports/?keyworker={other}&team={world.team_b.pk}")
    assert response.status_code == 200
    assert now_of(response) == Value(count=1)
    assert "keyworker" not in response.context["form"].fields
    assert b"Your own caseload" in response.content


def test_a_team_lead_cannot_filter_to_another_team(world, figures):
    response = world.client("team_lead").get(f"/reports/?team={world.team_b.pk}")
    assert response.status_code == 400
    assert "report" not in response.context
    text = response.content.decode()
    assert ("Team: You can see the figures of your own teams only (Team A), not those of "
            "Team B.") in text
    other = world.users["practitioner_b"].pk
    text = world.client("team_lead").get(f"/reports/?keyworker={other}").content.decode()
    assert "Keyworker: Choose a keyworker from the list: this one is not a practitioner of " \
           "your teams." in text


def test_prescribers_and_other_roles_are_refused(world, figures):
    for role in ("prescriber", "service_admin", "auditor", "patient"):
        for url in ("/reports/", "/reports/definitions/", "/reports/export.csv",
                    "/reports/test-in-treatment/patients/"):
            assert world.client(role).get(url).status_code == 403, (role, url)


def test_home_sends_a_service_manager_to_the_report_and_the_nav_links_it(world, figures):
    response = world.client("service_manager").get("/")
    assert response.status_code == 302 and response["Location"] == "/reports/"
    page = world.client("team_lead").get("/reports/")
    assert ("reports:service", "Service report") in page.context["nav"]
    nav = world.client("prescriber").get("/patients/").context["nav"]
    assert ("reports:service", "Service report") not in nav


# --- the page -----------------------------------------------------------------------------


def test_the_page_shows_both_periods_the_change_the_marker_and_the_definition(world, figures):
    response = world.client("service_manager").get("/reports/")
    text = response.content.decode()
    line = response.context["lines"][0][2][0]
    # 3 patients now, 0 before: up 3. 3 is from 1 to 7, so suppressed outside the service
    # (a † and words for screen readers); 0 is not.
    assert (line.now.number, line.now.suppressed) == ("3", True)
    assert (line.before.number, line.before.suppressed) == ("0", False)
    assert (line.change.arrow, line.change.words) == ("\u25b2", "up 3")
    assert "(would be suppressed outside the service)" in text
    assert 'href="/reports/definitions/#test-in-treatment"' in text
    assert "Patients in treatment in the period · Any day of the period · Episodes" in text
    assert "Worked out at" in text
    for fmt in ("csv", "xlsx", "pdf"):
        assert f'href="/reports/export.{fmt}?start=' in text


def test_the_share_chart_has_its_table(world, figures):
    # In the community: 3 of 3 = 100% now; nobody before (no percentage).
    response = world.client("service_manager").get("/reports/")
    assert now_of(response, "goal-kind-test") == Value(count=3, of=3)
    chart = response.context["charts"][0]
    assert chart["id"] == "goal-kinds"
    assert "<svg" in chart["svg"] and 'role="img"' in chart["svg"]
    definition, (now, before) = chart["table"][0]
    assert (definition.key, now.number, now.detail, before.number) == (
        "goal-kind-test", "100%", "3 of 3", "\u2014")
    line = response.context["lines"][0][2][1]
    assert line.change is None  # nothing to compare with


@pytest.mark.parametrize(("query", "message"), [
    ("start=2026-02-30", "Period starts: Enter a real date, for example 2026-01-31."),
    ("end=yesterday", "Period ends: Enter a real date, for example 2026-01-31."),
    ("start=2026-03-01&end=2026-02-01", "Period ends: The period ends before it starts"),
    ("end=2999-01-01", "Period ends: The period&#x27;s end cannot be in the future."),
    ("start=1850-01-01", "Period starts: The period&#x27;s start cannot be before 1900."),
    ("start=1901-01-01&end=2026-01-01", "Period starts: The period is longer than 10 years"),
    ("team=abc", "Team: There is no such team in this service."),
    ("team=999999", "Team: There is no such team in this service."),
    ("team=99999999999999999999999999", "Team: There is no such team in this service."),
    ("keyworker=99999999999999999999999999", "Keyworker: There is no such keyworker"),
    ("keyworker=-1", "Keyworker: There is no such keyworker"),
    ("team=%C2%B2", "Team: There is no such team in this service."),  # "²" is a digit to Python
    ("keyworker=%C2%B2", "Keyworker: There is no such keyworker"),
    ("setting=moon", "Setting: Choose a setting from the list."),
    ("substance=tea", "Substance group: Choose a substance group from the list."),
])
def test_bad_input_is_a_message_naming_the_field(world, figures, query, message):
    for url in ("/reports/", "/reports/test-in-treatment/patients/"):
        role = "service_manager" if url == "/reports/" else "team_lead"
        response = world.client(role).get(f"{url}?{query}")
        assert response.status_code == 400, (url, query)
        assert message in response.content.decode(), (url, query)


def test_a_bad_export_goes_back_to_the_page_with_the_message(world, figures):
    response = world.client("service_manager").get("/reports/export.csv?start=2026-02-30")
    assert response.status_code == 302
    assert response["Location"] == "/reports/?start=2026-02-30"
    assert not AuditEvent.objects.filter(action="export").exists()


def test_the_definitions_page_lists_every_figure_with_an_anchor(world):
    response = world.client("service_manager").get("/reports/definitions/")
    text = response.content.decode()
    assert FIGURES, "the figures have not landed"
    for figure in FIGURES:
        d = figure.definition
        assert f'id="{d.key}"' in text
        assert d.label.replace("'", "&#x27;") in text
    assert "How this is worked out" in text


def test_the_definitions_page_says_what_the_k10_reliable_change_uses_here(world, monkeypatch):
    from tests.test_report_outcomes import Builder, k10_service

    page = "/reports/definitions/"
    # Nothing yet: not worked out, and why.
    text = world.client("service_manager").get(page).content.decode()
    assert ("Not worked out yet: 0 episodes have a scored first K10 here so far, and it takes "
            "50 with different scores." in text)
    # k10_service: the first K10 of each episode here is 30 four times and 20 four times (not
    # the other organisation's 50s): mean 25, SD sqrt(8 x 25 / 7) = 5.35; smallest reliable
    # change 1.96 x sqrt(2) x 5.35 x sqrt(1 - 0.80) = 6.63.
    k10_service(world, Builder(world))
    monkeypatch.setattr(outcomes, "FEWEST_FIRST_SCORES", 8)
    text = world.client("team_lead").get(page).content.decode()
    line = ("Now: 8 episodes have a scored first K10, with an SD of 5.35, so a change of more "
            "than 6.63 points counts, in every period.")
    assert text.count(line) == 2  # improvement and deterioration
    assert "At this service" in text
    # On the report, a figure not worked out says so, not "nobody to count".
    monkeypatch.setattr(outcomes, "FEWEST_FIRST_SCORES", 9)
    report = world.client("service_manager").get(
        "/reports/?start=2026-01-01&end=2026-06-30")
    k10 = next(line for section in report.context["lines"] for line in section[2]
               if line.definition.key == "k10-reliable-improvement")
    assert (k10.now.number, k10.now.detail) == ("\u2014", "not worked out")
    phq9 = next(line for section in report.context["lines"] for line in section[2]
                if line.definition.key == "phq9-reliable-improvement")
    assert (phq9.now.number, phq9.now.detail) == ("\u2014", "nobody to count")


def test_every_real_figure_renders_for_every_reader(world):
    for role in ("service_manager", "team_lead", "practitioner"):
        response = world.client(role).get("/reports/")
        assert response.status_code == 200
        assert len(response.context["report"].rows) == len(FIGURES)


# --- the patients behind a figure ---------------------------------------------------------


def test_the_drill_down_lists_exactly_the_readers_patients_and_is_audited(world, figures):
    # Team lead of team A: p1 and p2 (by family name: "Patient T-001", "Patient T-002").
    response = world.client("team_lead").get("/reports/test-in-treatment/patients/")
    assert response.status_code == 200
    assert listed(response) == ["T-001", "T-002"]
    assert f'href="/patients/{world.p1.pk}/"' in response.content.decode()
    events = AuditEvent.objects.filter(actor=world.users["team_lead"], action="search",
                                       object_type="report-patients")
    assert {e.patient_id for e in events} == {world.p1.pk, world.p2.pk}
    # The practitioner: p1 only. Filtered to team B, the team lead gets a message instead.
    assert listed(world.client("practitioner").get(
        "/reports/test-in-treatment/patients/")) == ["T-001"]
    refused = world.client("team_lead").get(
        f"/reports/test-in-treatment/patients/?team={world.team_b.pk}")
    assert refused.status_code == 400


def test_a_manager_who_also_leads_a_team_sees_only_their_teams_patients(world, figures):
    from tandem.accounts.models import Role, RoleGrant

    manager = world.users["service_manager"]
    RoleGrant.objects.create(organisation=world.org, user=manager, role=Role.TEAM_LEAD,
                             team=world.team_b)
    client = world.client("service_manager")
    # Figures: every team (3). The list: only the patients they may open: p3 of team B.
    assert now_of(client.get("/reports/")) == Value(count=3)
    response = client.get("/reports/test-in-treatment/patients/")
    assert listed(response) == ["T-003"]
    assert response.context["behind"] == 3
    assert b"you may open, of the 3 behind this figure" in response.content


def test_the_drill_down_refuses_managers_and_figures_without_a_list(world, figures):
    assert world.client("service_manager").get(
        "/reports/test-in-treatment/patients/").status_code == 403
    lead = world.client("team_lead")
    assert lead.get("/reports/goal-kind-test/patients/").status_code == 404  # drill=False
    assert lead.get("/reports/no-such-figure/patients/").status_code == 404


def test_the_drill_down_takes_a_fixed_number_of_queries(world, figures):
    lead = world.client("team_lead")
    url = "/reports/test-in-treatment/patients/"
    lead.get(url)  # warm up (sessions, caches)
    with CaptureQueriesContext(connection) as few:
        assert len(listed(lead.get(url))) == 2
    for n in range(6):
        make_patient(world.org, world.team_a, f"T-1{n:02d}")
    with CaptureQueriesContext(connection) as many:
        assert len(listed(lead.get(url))) == 8
    reads = [q for q in many.captured_queries if not q["sql"].startswith(("INSERT", "UPDATE"))]
    reads_few = [q for q in few.captured_queries
                 if not q["sql"].startswith(("INSERT", "UPDATE"))]
    assert len(reads) == len(reads_few)


def test_the_whole_report_takes_a_fixed_number_of_queries(world):
    manager = world.client("service_manager")
    manager.get("/reports/")
    with CaptureQueriesContext(connection) as few:
        manager.get("/reports/")
    for n in range(5):
        make_patient(world.org, world.team_a, f"T-2{n:02d}")
    with CaptureQueriesContext(connection) as many:
        manager.get("/reports/")
    assert len(many) == len(few)


# --- exports ------------------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_a_csv_export_is_suppressed_and_audited(world, figures):
    client = world.client("service_manager")
    response = client.get(f"/reports/export.csv?team={world.team_a.pk}&setting=community")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = csv_rows(response)
    row = next(r for r in rows if len(r) > 2 and r[1] == "Patients in treatment (test)")
    # Team A: 2 patients now (1 to 7: "*"), 0 before (shown: 0).
    assert row[5:7] == ["*", "0"]
    event = AuditEvent.objects.get(action="export", actor=world.users["service_manager"])
    assert (event.object_type, event.object_id, event.role) == (
        "service-report", "csv", "service_manager")
    assert "Service report as CSV" in event.detail
    assert "team: Team A" in event.detail and "setting: Community" in event.detail
    assert event.path.startswith("/reports/export.csv?team=")


def test_a_practitioners_export_is_their_own_caseload(world, figures):
    response = world.client("practitioner").get("/reports/export.csv")
    row = next(r for r in csv_rows(response) if len(r) > 2 and r[1].startswith("Patients in"))
    assert row[5] == "*"  # p1 only: 1, hidden
    event = AuditEvent.objects.get(action="export", actor=world.users["practitioner"])
    assert "keyworker: the reader (own caseload)" in event.detail


def test_spreadsheet_and_pdf_exports_are_audited(world, figures):
    client = world.client("team_lead")
    response = client.get("/reports/export.xlsx")
    assert response.status_code == 200 and response.content[:2] == b"PK"
    assert AuditEvent.objects.filter(action="export", object_id="xlsx").count() == 1
    response = client.get("/reports/export.pdf")
    if response.status_code == 503:  # no Pango here: nothing left, nothing recorded
        assert not AuditEvent.objects.filter(action="export", object_id="pdf").exists()
    else:
        assert response.content[:4] == b"%PDF"
        assert AuditEvent.objects.filter(action="export", object_id="pdf").count() == 1
    assert client.get("/reports/export.doc").status_code == 404


# --- a real figure: medication review overdue ---------------------------------------------


def overdue_plan(world, patient):
    """A methadone plan started 120 days ago and never reviewed: overdue (over 3 months)."""
    from tandem.medication import doses

    episode = patient.episodes.get()
    episode.start_date = TODAY - datetime.timedelta(days=200)
    episode.save()
    return doses.start_plan(Actor(user=world.users["prescriber"]), episode, "methadone",
                            doses.Terms(low=Decimal(20), high=Decimal(90),
                                        step_up_max=Decimal(10), step_down_max=Decimal(10),
                                        min_days_between=3, max_rise_7_days=Decimal(20),
                                        self_setting=False,
                                        review_date=TODAY + datetime.timedelta(days=30)),
                            Decimal(30), TODAY - datetime.timedelta(days=120), "Start")


def test_medication_review_overdue_drills_to_the_team_leads_patients(world):
    # p1 (team A) and p3 (team B) each have a plan unreviewed for 120 days: overdue.
    # Service manager: 2. Team lead of team A: 1 (p1), and the list is p1 alone.
    overdue_plan(world, world.p1)
    overdue_plan(world, world.p3)
    key = "medication-review-overdue"
    assert now_of(world.client("service_manager").get("/reports/"), key) == Value(count=2)
    lead = world.client("team_lead")
    assert now_of(lead.get("/reports/"), key) == Value(count=1)
    assert listed(lead.get(f"/reports/{key}/patients/")) == ["T-001"]


def test_a_share_lists_the_patients_it_does_not_count_too(world):
    # p1 (team A) did a check-up 10 days ago, p2 (team A) none: p1 is on schedule and p2 not
    # (both in treatment for 90 days, longer than the 12-week interval).
    from tandem.assessment.models import Response

    Response.objects.create(
        organisation=world.org, patient=world.p1, episode=world.p1.episodes.get(),
        instrument_code="phq9", instrument_version="1", status="completed", mode="staff",
        completed_at=timezone.now() - datetime.timedelta(days=10),
        completed_on=TODAY - datetime.timedelta(days=10), scores={"total": 3}, headline=3)
    lead = world.client("team_lead")
    url = "/reports/checkups-on-schedule/patients/"
    counted = lead.get(url)
    assert listed(counted) == ["T-001"]
    body = counted.content.decode()
    assert "list=not-counted" in body and 'aria-current="page">Counted in the figure' in body
    others = lead.get(url + "?list=not-counted")
    assert others.status_code == 200
    assert listed(others) == ["T-002"]
    assert "Patients not counted in" in others.content.decode()
    assert AuditEvent.objects.filter(actor=world.users["team_lead"], patient=world.p2,
                                     object_type="report-patients").exists()
    # A count has no such list.
    assert lead.get("/reports/medication-review-overdue/patients/?list=not-counted"
                    ).status_code == 404


@pytest.mark.parametrize("query", [
    "substance=opiate", "substance=non-opiate", "substance=non-opiate-alcohol",
    "substance=alcohol", "substance=not-recorded", "setting=secure", "setting=community",
    "team={team}&keyworker={kw}&setting=community&substance=opiate",
    "start={today}&end={today}",  # a one-day period, against the day before
])
def test_every_filter_works_with_every_real_figure(world, query):
    url = "/reports/?" + query.format(team=world.team_a.pk, kw=world.users["practitioner"].pk,
                                      today=TODAY.isoformat())
    response = world.client("service_manager").get(url)
    assert response.status_code == 200
    assert len(response.context["report"].rows) == len(FIGURES)
    csv_response = world.client("service_manager").get(url.replace("/reports/",
                                                                   "/reports/export.csv"))
    assert csv_response.status_code == 200


@pytest.mark.django_db(transaction=True)  # as in production: no test transaction around it
def test_the_report_and_its_exports_run_outside_the_request_transaction(monkeypatch):
    # So their figures are worked out on two connections on PostgreSQL too (report.py): other
    # connections could not see what a request's open transaction had written.
    from tests.conftest import build_world

    world = build_world()
    seen = []
    real = views.build

    def spy(scope, *args, **kwargs):
        seen.append(connection.in_atomic_block)
        return real(scope, *args, **kwargs)

    monkeypatch.setattr(views, "build", spy)
    manager = world.client("service_manager")
    assert manager.get("/reports/").status_code == 200
    assert manager.get("/reports/export.csv").status_code == 200
    assert seen == [False, False]
    # The export is still audited (sealed as it is recorded).
    assert AuditEvent.objects.filter(actor=world.users["service_manager"], action="export",
                                     object_type="service-report").count() == 1
