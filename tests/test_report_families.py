"""How the report works its figures out (reporting/figures/base.py): a family of figures reads
one set of rows, worked out once per period and aggregated in one query; the SQL median; codes
put into SQL; local days compared by the times they start. The figures themselves are pinned in
test_report_<section>.py."""

import dataclasses
import datetime
import statistics
import zoneinfo

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from tandem.assessment.models import Response
from tandem.core.report import Kind, Period, Value
from tandem.reporting import report
from tandem.reporting.figures import FIGURES
from tandem.reporting.figures.base import Facts, Measure, literal, work_out
from tandem.reporting.scope import (
    JsonNumber,
    JsonTrue,
    LocalDate,
    Scope,
    offsets,
    on_days,
    on_or_before,
    treated_once,
)
from tests.conftest import build_world

D = datetime.date


def _numbers(values: list[int | None]) -> Facts:
    """A family whose rows are the given numbers (`x`, null for None), one patient each."""
    def parts(scope):
        rows = " UNION ALL ".join(
            f"SELECT {i} AS patient_id, CAST(%s AS INTEGER) AS x" for i in range(len(values)))
        return [("numbers", rows or "SELECT 0 AS patient_id, 0 AS x WHERE 1 = 0",
                 list(values))]
    return Facts("numbers", parts)


SCOPE = Scope(1, Period(D(2026, 1, 1), D(2026, 6, 30)))


class TestMeasures(TestCase):
    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), max_size=9))
    def test_the_median_and_mean_are_those_of_the_numbers_given(self, values):
        median, mean, share, count = work_out(_numbers(values), SCOPE, [
            Measure(Kind.MEDIAN, of="x"), Measure(Kind.MEAN, of="x"),
            Measure(Kind.SHARE, among="x IS NOT NULL", met="x > 0"),
            Measure(Kind.COUNT, met="x < 0")])
        known = [v for v in values if v is not None]
        assert median.people == mean.people == len(known)
        if known:
            assert median.value == pytest.approx(statistics.median(known))
            assert mean.value == pytest.approx(statistics.mean(known))
        else:
            assert median == mean == Value(value=None, people=0)
        assert share == Value(count=sum(1 for v in known if v > 0), of=len(known))
        assert count == Value(count=sum(1 for v in known if v < 0))


def test_codes_put_into_sql_are_only_codes():
    assert literal("abstinence-all") == "'abstinence-all'"
    assert literal("") == "''"
    for bad in ("x'; DROP TABLE patients_patient; --", "Moderation", "a b", "é"):
        with pytest.raises(ValueError):
            literal(bad)


@pytest.mark.django_db
def test_the_report_runs_one_query_per_family_and_period():
    world = build_world()
    scope = Scope(world.org.pk, Period(D(2026, 1, 1), D(2026, 6, 30)))
    families = {f.facts.name for f in FIGURES if f.facts is not None}
    assert {"goals", "flags", "ratings", "gas_t", "pairs_top", "pairs_phq9"} <= families
    with CaptureQueriesContext(connection) as queries:
        report.build(scope)
    with_steps = [q["sql"] for q in queries if q["sql"].startswith("WITH ")]
    assert len(with_steps) == 2 * len(families)
    # Who is in treatment is worked out once a period, into a temporary table each family
    # reads, dropped at the end.
    made = [q["sql"] for q in queries if q["sql"].startswith("CREATE TEMPORARY TABLE")]
    dropped = [q["sql"] for q in queries
               if q["sql"].startswith("DROP TABLE IF EXISTS report_treated_")]
    assert len(made) == len(dropped) == 2
    assert all(any(m.split()[3] in step for m in made) for step in with_steps)


@pytest.mark.django_db
def test_local_days_are_compared_by_the_times_they_start():
    """30 June 2026 23:30 UTC is 1 July 00:30 in London (summer time): on 1 July, not 30 June."""
    world = build_world()
    patient = world.p1
    at = datetime.datetime(2026, 6, 30, 23, 30, tzinfo=datetime.UTC)
    Response.objects.create(organisation=world.org, patient=patient, instrument_code="phq9",
                            instrument_version="1", status="completed", mode="self",
                            completed_at=at)
    mine = Response.objects.filter(patient=patient)
    assert not mine.filter(on_or_before("completed_at", D(2026, 6, 30))).exists()
    assert mine.filter(on_or_before("completed_at", D(2026, 7, 1))).exists()
    assert mine.filter(on_days("completed_at", D(2026, 7, 1), D(2026, 7, 1))).exists()
    assert not mine.filter(on_days("completed_at", D(2026, 6, 1), D(2026, 6, 30))).exists()
    # The same answer as Django's own date lookup, which turns each row's time into a date.
    assert mine.get().completed_on == D(2026, 7, 1)
    assert mine.filter(completed_at__date=D(2026, 7, 1)).exists()


def test_an_sqlite_too_old_for_the_report_is_said_at_start_up(monkeypatch):
    from tandem.reporting import checks

    if connection.vendor != "sqlite":
        assert checks.sqlite_new_enough(databases=["default"]) == []
        return
    assert checks.sqlite_new_enough(databases=["default"]) == []
    monkeypatch.setattr(connection.Database, "sqlite_version_info", (3, 34, 1))
    found = checks.sqlite_new_enough(databases=["default"])
    assert [m.id for m in found] == ["tandem.reporting.E001"]
    assert "3.34.1" in found[0].msg and "3.35" in found[0].msg


@pytest.mark.django_db
def test_the_temporary_table_goes_when_the_report_fails_half_way():
    world = build_world()
    scope = Scope(world.org.pk, Period(D(2026, 1, 1), D(2026, 6, 30)))
    with pytest.raises(RuntimeError), treated_once(scope) as once:
        name = once.treated
        assert once.in_treatment().count() == scope.in_treatment().count()
        raise RuntimeError("a figure failed")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {name}")
    # And no other name is read as a table.
    with pytest.raises(ValueError):
        dataclasses.replace(scope, treated="patients_patient; --").in_treatment()


@pytest.mark.django_db
def test_numbers_and_yes_answers_are_read_from_json_with_one_lookup():
    world = build_world()
    Response.objects.create(
        organisation=world.org, patient=world.p1, instrument_code="top",
        instrument_version="1", status="completed", mode="staff",
        scores={"alcohol_days": 12, "mean": 2.5, "unscored": None},
        answers={"yes": True, "no": False, "text": "true", "one": 1})
    got = Response.objects.filter(patient=world.p1).annotate(
        days=JsonNumber("scores", "alcohol_days"), mean=JsonNumber("scores", "mean"),
        unscored=JsonNumber("scores", "unscored"), missing=JsonNumber("scores", "nothing"),
        yes=JsonTrue("answers", "yes"), no=JsonTrue("answers", "no"),
        text=JsonTrue("answers", "text"), one=JsonTrue("answers", "one"),
        absent=JsonTrue("answers", "absent"),
    ).values("days", "mean", "unscored", "missing", "yes", "no", "text", "one", "absent").get()
    assert got == {"days": 12.0, "mean": 2.5, "unscored": None, "missing": None, "yes": 1,
                   "no": 0, "text": 0, "one": 0, "absent": 0}
    # Only Tandem's own codes go into the SQL.
    for bad in ("a'; --", "Alcohol", "a.b", ""):
        with pytest.raises(ValueError):
            JsonNumber("scores", bad)


@pytest.mark.django_db(transaction=True)  # no test transaction around it: its own is the outer
def test_the_report_reads_without_jit_on_postgresql_and_keeps_no_write_lock_on_sqlite():
    world = build_world()
    scope = Scope(world.org.pk, Period(D(2026, 1, 1), D(2026, 6, 30)))

    def jit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            return cursor.fetchone()[0]

    before = jit() if connection.vendor == "postgresql" else None
    with treated_once(scope):
        if connection.vendor == "postgresql":
            assert connection.in_atomic_block and jit() == "off"
        else:
            # No transaction: an IMMEDIATE one would keep every writer waiting meanwhile.
            assert not connection.in_atomic_block
    if connection.vendor == "postgresql":
        assert jit() == before  # SET LOCAL: gone with the transaction


@pytest.mark.django_db
def test_local_dates_worked_out_in_sql_match_the_time_zone():
    """Times around both summer-time changes of 2026 (29 March, 25 October, at 01:00 UTC),
    around midnight in winter and summer, and outside the range given (Django's own function
    then): each time's local date in SQL is its date in London."""
    world = build_world()
    utc = datetime.UTC
    changes = [datetime.datetime(2026, 3, 29, 1, 0, tzinfo=utc),
               datetime.datetime(2026, 10, 25, 1, 0, tzinfo=utc)]
    times = [change + datetime.timedelta(microseconds=us) for change in changes
             for us in (-1, 0, 1, -3_600_000_000, 3_600_000_000)]
    times += [datetime.datetime(2026, 1, 15, 23, 59, 59, tzinfo=utc),
              datetime.datetime(2026, 1, 16, 0, 0, tzinfo=utc),
              datetime.datetime(2026, 7, 15, 22, 59, 59, 999999, tzinfo=utc),
              datetime.datetime(2026, 7, 15, 23, 0, tzinfo=utc),
              datetime.datetime(2026, 12, 31, 23, 30, tzinfo=utc),  # last day given
              datetime.datetime(2024, 6, 30, 23, 30, tzinfo=utc),  # before the range
              datetime.datetime(2028, 6, 30, 23, 30, tzinfo=utc)]  # after it
    for at in times:
        Response.objects.create(organisation=world.org, patient=world.p1,
                                instrument_code="phq9", instrument_version="1",
                                status="completed", mode="self", completed_at=at)
    got = (Response.objects.filter(patient=world.p1)
           .annotate(day=LocalDate("completed_at", D(2026, 1, 1), D(2026, 12, 31)))
           .values_list("completed_at", "day"))
    london = zoneinfo.ZoneInfo("Europe/London")
    assert len(got) == len(times)
    for at, day in got:
        assert day == at.astimezone(london).date(), at
    # No time, no date (and no call to Django's function for it).
    Response.objects.create(organisation=world.org, patient=world.p2, instrument_code="phq9",
                            instrument_version="1", status="in-progress", mode="self")
    assert list(Response.objects.filter(patient=world.p2).annotate(
        day=LocalDate("completed_at", D(2026, 1, 1), D(2026, 12, 31))
    ).values_list("day", flat=True)) == [None]


def test_the_offsets_of_a_year_are_its_summer_time_changes():
    spans = offsets(D(2026, 1, 1), D(2026, 12, 31))
    assert [(at.isoformat(), ahead) for at, ahead in spans] == [
        ("2026-01-01T00:00:00+00:00", 0),
        ("2026-03-29T01:00:00+00:00", 60),
        ("2026-10-25T01:00:00+00:00", 0)]
    assert [ahead for _, ahead in offsets(D(2026, 6, 1), D(2026, 6, 30))] == [60]


def seed_figures(world):
    """Patients whose questionnaires, goals and ratings give the figures something to count
    in both halves of 2026."""
    from tests.test_report_outcomes import Builder

    build = Builder(world)
    plan_day = D(2026, 5, 1)
    for n in range(4):
        p = build.patient(start=D(2025, 6, 1))
        build.top(p, D(2025, 7, 1), opioids=20 - n, alcohol=n)
        build.top(p, D(2025, 12, 1), opioids=10, alcohol=0)
        build.top(p, D(2026, 5, 5), opioids=n, alcohol=0)
        for code, before, after in (("phq9", 20, 5 + n), ("gad7", 15, 10)):
            build.total(p, code, D(2025, 7, 2), before)
            build.total(p, code, D(2026, 5, 6), after)
        goal = build.goal(p, "Get my own flat")
        build.review(build.plan(p), plan_day, t=45.0 + n, ratings=[(goal, n - 1, 0)])


@pytest.mark.django_db(transaction=True)  # the other connections see only what is committed
def test_the_report_on_two_connections_is_the_report_on_one():
    world = build_world()
    seed_figures(world)
    scope = Scope(world.org.pk, Period(D(2026, 1, 1), D(2026, 6, 30)))
    one = report.build(scope, connections=1)
    spent: dict[str, float] = {}
    two = report.build(scope, connections=2, spent=spent)
    assert [(r.definition.key, r.now, r.before) for r in two.rows] == [
        (r.definition.key, r.now, r.before) for r in one.rows]
    assert any(r.now != Value(count=0) and r.now != Value(count=0, of=0) for r in one.rows)
    assert {group.name for group in report.groups(FIGURES)} == set(spent)


@pytest.mark.django_db(transaction=True)
def test_a_figure_failing_on_another_connection_fails_the_report(monkeypatch):
    world = build_world()
    scope = Scope(world.org.pk, Period(D(2026, 1, 1), D(2026, 6, 30)))

    def broken(self, scope):
        raise RuntimeError("a figure failed")

    monkeypatch.setattr(report.Group, "work_out", broken)
    with pytest.raises(RuntimeError, match="a figure failed"):
        report.build(scope, connections=2)


@pytest.mark.django_db
def test_inside_a_transaction_the_report_stays_on_its_own_connection(monkeypatch):
    # Other connections could not see rows this transaction has not committed.
    world = build_world()
    scope = Scope(world.org.pk, Period(D(2026, 1, 1), D(2026, 6, 30)))
    asked = []
    real = report.work_out_all

    def spy(scopes, figures, connections, spent=None):
        asked.append(connections)
        return real(scopes, figures, connections, spent)

    monkeypatch.setattr(report, "work_out_all", spy)
    assert connection.in_atomic_block
    assert len(report.build(scope, connections=2).rows) == len(FIGURES)
    assert asked == [1]
